"""Per-user HNSW indexes (hnswlib, cosine) derived from the passage vectors in the database.

One writer (the `index` queue, concurrency 1, plus a file lock) writes snapshots: the index
to a temporary file renamed into place, then a manifest naming it with its SHA-256, the
user's index position it covers, the model and dimensions. A searching process loads the
newest snapshot whose checksum matches (never any other file: hnswlib trusts its input)
and adds what was committed after it straight from the database, before every search,
so every search sees every committed vector. Anything wrong with the files means a
rebuild from the database, never an error.

hnswlib is not safe when one thread adds while another queries, so each in-memory index
sits behind a read-write lock.
"""

import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import hnswlib
import numpy as np
from django.conf import settings

from search.embedding import model_name
from search.models import DIMENSIONS, Passage, Tombstone, UserIndexState

log = logging.getLogger(__name__)
FORMAT = 1


class RWLock:
    """Many readers or one writer; a waiting writer holds new readers back."""

    def __init__(self):
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def read(self):
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self):
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


def index_dir() -> Path:
    path = Path(settings.SEARCH_INDEX_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def manifest_path(user_id: int) -> Path:
    return index_dir() / f"user-{user_id}.json"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def current_seq(user_id: int) -> int:
    return UserIndexState.objects.filter(user_id=user_id).values_list("seq", flat=True).first() or 0


class UserIndex:
    """One user's vectors for one model, in memory."""

    def __init__(self, user_id: int, model: str):
        self.user_id = user_id
        self.model = model
        self.lock = RWLock()
        self.seq = 0
        self.live: set[int] = set()
        self.deleted = 0  # elements marked deleted but still in the graph
        self.index = self._new(1024)
        self.loaded_from = ""  # "snapshot" or "database", for status and tests

    @staticmethod
    def _new(capacity: int) -> hnswlib.Index:
        index = hnswlib.Index(space="cosine", dim=DIMENSIONS)
        index.init_index(
            max_elements=capacity, M=settings.SEARCH_HNSW_M, ef_construction=settings.SEARCH_HNSW_EF_CONSTRUCTION
        )
        index.set_ef(settings.SEARCH_HNSW_EF)
        return index

    # --- building --------------------------------------------------------------------
    def _add(self, labels: list[int], vectors: np.ndarray) -> None:
        fresh = [i for i, label in enumerate(labels) if label not in self.live]
        if not fresh:
            return
        labels = [labels[i] for i in fresh]
        vectors = vectors[fresh]
        needed = self.index.get_current_count() + len(labels)
        if needed > self.index.get_max_elements():
            self.index.resize_index(max(needed, 2 * self.index.get_max_elements()))
        self.index.add_items(vectors, np.asarray(labels, dtype=np.int64), num_threads=1)
        self.live.update(labels)

    def _remove(self, labels) -> None:
        for label in labels:
            if label in self.live:
                self.index.mark_deleted(label)
                self.live.discard(label)
                self.deleted += 1

    def _rows_after(self, after: int, upto: int):
        rows = (
            Passage.objects.filter(user_id=self.user_id, seq__gt=after, seq__lte=upto, model=self.model)
            .exclude(vector=None)
            .values_list("id", "vector")
            .iterator(chunk_size=2000)
        )
        batch_ids, batch_vecs = [], []
        for pk, vector in rows:
            batch_ids.append(pk)
            batch_vecs.append(bytes(vector))
            if len(batch_ids) == 2000:
                yield batch_ids, _matrix(batch_vecs)
                batch_ids, batch_vecs = [], []
        if batch_ids:
            yield batch_ids, _matrix(batch_vecs)

    def _catch_up_locked(self, upto: int) -> None:
        if upto <= self.seq:
            return
        for ids, vectors in self._rows_after(self.seq, upto):
            self._add(ids, vectors)
        gone = Tombstone.objects.filter(user_id=self.user_id, seq__gt=self.seq, seq__lte=upto)
        self._remove(gone.values_list("passage_id", flat=True))
        self.seq = upto

    def catch_up(self) -> None:
        """Add every vector committed since this index was last brought up to date."""
        upto = current_seq(self.user_id)
        if upto <= self.seq:
            return
        with self.lock.write():
            self._catch_up_locked(upto)

    @classmethod
    def from_database(cls, user_id: int, model: str) -> "UserIndex":
        upto = current_seq(user_id)
        count = Passage.objects.filter(user_id=user_id, model=model, seq__lte=upto).exclude(vector=None).count()
        idx = cls(user_id, model)
        idx.index = cls._new(max(1024, count + 64))
        for ids, vectors in idx._rows_after(0, upto):
            idx._add(ids, vectors)
        idx.seq = upto
        idx.loaded_from = "database"
        return idx

    @classmethod
    def from_snapshot(cls, user_id: int, model: str) -> "UserIndex | None":
        """The newest snapshot, or None when it is missing, foreign, stale-model or damaged."""
        try:
            manifest = json.loads(manifest_path(user_id).read_text())
            data = index_dir() / manifest["file"]
            if (
                manifest.get("format") != FORMAT
                or manifest.get("user_id") != user_id
                or manifest.get("model") != model
                or manifest.get("dims") != DIMENSIONS
                or "/" in manifest["file"]
                or data.stat().st_size != manifest["bytes"]
                or _sha256(data) != manifest["sha256"]
            ):
                return None
            idx = cls(user_id, model)
            idx.index = hnswlib.Index(space="cosine", dim=DIMENSIONS)
            idx.index.load_index(str(data), max_elements=manifest["capacity"])
            idx.index.set_ef(settings.SEARCH_HNSW_EF)
            idx.live = set(manifest["live"])
            idx.deleted = idx.index.get_current_count() - len(idx.live)
            idx.seq = manifest["seq"]
            idx.loaded_from = "snapshot"
            return idx
        except FileNotFoundError:
            return None
        except Exception:  # a truncated, garbage or foreign file: rebuild from the database
            log.warning("search index snapshot for user %s is unusable, rebuilding", user_id, exc_info=True)
            return None

    # --- querying --------------------------------------------------------------------
    def query(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(passage id, cosine similarity) of the k nearest live vectors."""
        with self.lock.read():
            k = min(k, len(self.live))
            if k <= 0:
                return []
            while True:
                try:
                    labels, distances = self.index.knn_query(vector.reshape(1, -1), k=k, num_threads=1)
                    break
                except RuntimeError:
                    # Too few reachable elements for k (many deleted): ask for fewer.
                    if k <= 1:
                        return []
                    k //= 2
        return [(int(label), 1.0 - float(d)) for label, d in zip(labels[0], distances[0])]

    def query_many(self, vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        with self.lock.read():
            k = min(k, len(self.live))
            if k <= 0 or not len(vectors):
                return [[] for _ in range(len(vectors))]
            while True:
                try:
                    labels, distances = self.index.knn_query(vectors, k=k, num_threads=1)
                    break
                except RuntimeError:
                    if k <= 1:
                        return [[] for _ in range(len(vectors))]
                    k //= 2
        return [[(int(l), 1.0 - float(d)) for l, d in zip(ls, ds)] for ls, ds in zip(labels, distances)]

    def vectors(self, labels: list[int]) -> np.ndarray:
        with self.lock.read():
            return np.asarray(self.index.get_items(labels), dtype=np.float32)

    # --- writing snapshots (the one writer) ------------------------------------------
    def save(self) -> Path:
        with self.lock.read():
            directory = index_dir()
            name = f"user-{self.user_id}-{self.seq}-{os.getpid()}-{time.time_ns()}.bin"
            tmp = directory / (name + ".tmp")
            self.index.save_index(str(tmp))
            capacity = self.index.get_max_elements()
            live = sorted(self.live)
            seq = self.seq
            deleted = self.deleted
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        data = directory / name
        os.replace(tmp, data)
        manifest = {
            "format": FORMAT, "user_id": self.user_id, "file": name, "sha256": _sha256(data),
            "bytes": data.stat().st_size, "seq": seq, "model": self.model, "dims": DIMENSIONS,
            "capacity": capacity, "live": live, "deleted": deleted, "M": settings.SEARCH_HNSW_M,
            "ef_construction": settings.SEARCH_HNSW_EF_CONSTRUCTION, "written_at": time.time(),
        }
        mtmp = manifest_path(self.user_id).with_suffix(".json.tmp")
        mtmp.write_text(json.dumps(manifest))
        os.replace(mtmp, manifest_path(self.user_id))
        for old in directory.glob(f"user-{self.user_id}-*.bin"):
            if old.name != name:
                old.unlink(missing_ok=True)
        return data


def _matrix(blobs: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), DIMENSIONS)


# --- the per-process registry ------------------------------------------------------
_indexes: dict[tuple[int, str], UserIndex] = {}
_registry_lock = threading.Lock()


def get_index(user_id: int, model: str | None = None) -> UserIndex:
    """This process's index of the user, brought up to every committed vector."""
    model = model or model_name()
    key = (user_id, model)
    idx = _indexes.get(key)
    if idx is None:
        with _registry_lock:
            idx = _indexes.get(key)
            if idx is None:
                idx = UserIndex.from_snapshot(user_id, model) or UserIndex.from_database(user_id, model)
                _indexes[key] = idx
    idx.catch_up()
    return idx


def forget(user_id: int | None = None) -> None:
    """Drop in-memory indexes (all, or one user's) so the next search reloads."""
    with _registry_lock:
        for key in [k for k in _indexes if user_id is None or k[0] == user_id]:
            del _indexes[key]


@contextmanager
def writer_lock(user_id: int):
    """Only one process writes a user's snapshot at a time."""
    with open(index_dir() / f"user-{user_id}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def write_snapshot(user_id: int, *, compact: bool | None = None) -> dict:
    """Bring the user's snapshot up to date; rebuild without deleted elements past the threshold."""
    model = model_name()
    with writer_lock(user_id):
        idx = UserIndex.from_snapshot(user_id, model)
        rebuilt = idx is None
        if idx is None:
            idx = UserIndex.from_database(user_id, model)
        else:
            idx.catch_up()
        total = idx.index.get_current_count()
        if compact is None:
            compact = total and idx.deleted / total > settings.SEARCH_COMPACT_RATIO
        if compact and not rebuilt:
            idx = UserIndex.from_database(user_id, model)
            rebuilt = True
        idx.save()
        return {"user_id": user_id, "seq": idx.seq, "vectors": len(idx.live), "deleted": idx.deleted, "rebuilt": rebuilt}


def snapshot_info(user_id: int) -> dict:
    try:
        manifest = json.loads(manifest_path(user_id).read_text())
        data = index_dir() / manifest["file"]
        return {
            "bytes": data.stat().st_size, "age_s": max(0.0, time.time() - manifest["written_at"]),
            "seq": manifest["seq"], "deleted": manifest.get("deleted", 0), "model": manifest["model"],
            "count": len(manifest["live"]),
        }
    except Exception:
        return {"bytes": 0, "age_s": None, "seq": 0, "deleted": 0, "model": "", "count": 0}
