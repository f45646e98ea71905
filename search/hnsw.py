"""Per-user, per-model HNSW indexes (hnswlib, cosine) derived from the passage vectors in
the database.

One writer (the `index` queue, concurrency 1, plus a file lock) writes snapshots: the index
to a temporary file renamed into place, then a manifest (one per user and model) naming it
with its SHA-256, the user's index position it covers, the model and dimensions. A
searching process loads the newest snapshot whose checksum matches (never any other file:
hnswlib trusts its input) and adds what was committed after it straight from the database,
before every search, so every search sees every committed vector. Anything wrong with the
files means a rebuild from the database, never an error.

A long-running process notices newer snapshots: at most every RELOAD_CHECK_SECONDS it
stats the manifest, and when the writer has written one with fewer deleted elements than
its own index holds (a compaction), a background thread loads and verifies it; the next
search catches it up and swaps it in, searches meanwhile answering from the old one.
Tombstones are pruned once old and covered by the snapshot (UserIndexState.pruned_seq):
an index older than that position cannot catch up and is reloaded instead.

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

from search.embedding import active_model, model_name
from search.models import DIMENSIONS, Passage, Tombstone, UserIndexState

log = logging.getLogger(__name__)
FORMAT = 1
RELOAD_CHECK_SECONDS = 5.0  # how often a searching process looks for a newer snapshot


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


def _model_key(model: str) -> str:
    return hashlib.sha256(model.encode()).hexdigest()[:12]


def manifest_path(user_id: int, model: str | None = None) -> Path:
    """The manifest of the user's snapshot for `model` (default: the model their searches use)."""
    return index_dir() / f"user-{user_id}-{_model_key(model or active_model(user_id))}.json"


def _manifest_signature(path: Path) -> tuple | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def current_seq(user_id: int) -> int:
    return position(user_id)[0]


def position(user_id: int) -> tuple[int, int, str]:
    """(index position, pruned position, recorded active model) of the user, read at once:
    a model switch changes the active model and removes the old vectors in one commit."""
    return UserIndexState.objects.filter(user_id=user_id).values_list("seq", "pruned_seq", "active_model").first() or (0, 0, "")


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
        self.manifest_seen = None  # the manifest (inode, mtime, size) this process last looked at
        self.checked_at = time.monotonic()
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

    def _catch_up_locked(self, upto: int) -> bool:
        if upto <= self.seq:
            return True
        for ids, vectors in self._rows_after(self.seq, upto):
            self._add(ids, vectors)
        gone = list(
            Tombstone.objects.filter(user_id=self.user_id, seq__gt=self.seq, seq__lte=upto).values_list("passage_id", flat=True)
        )
        # Read after the tombstones: a prune that committed meanwhile may have taken some.
        if position(self.user_id)[1] > self.seq:
            return False
        self._remove(gone)
        self.seq = upto
        return True

    def catch_up(self, state: tuple | None = None) -> bool:
        """Add every vector committed up to the user's position (`state`, as `position`
        returns it, or read now); False when tombstones it would need were pruned (the
        index must be reloaded instead)."""
        upto, pruned, _ = state or position(self.user_id)
        if pruned > self.seq:
            return False
        if upto <= self.seq:
            return True
        with self.lock.write():
            return self._catch_up_locked(upto)

    @classmethod
    def load(cls, user_id: int, model: str) -> "UserIndex":
        """The newest usable snapshot brought up to date, or a rebuild from the database."""
        idx = cls.from_snapshot(user_id, model)
        if idx is not None and idx.catch_up():
            return idx
        return cls.from_database(user_id, model)

    @classmethod
    def from_database(cls, user_id: int, model: str) -> "UserIndex":
        seen = _manifest_signature(manifest_path(user_id, model))
        upto = current_seq(user_id)
        count = Passage.objects.filter(user_id=user_id, model=model, seq__lte=upto).exclude(vector=None).count()
        idx = cls(user_id, model)
        idx.index = cls._new(max(1024, count + 64))
        for ids, vectors in idx._rows_after(0, upto):
            idx._add(ids, vectors)
        idx.seq = upto
        idx.manifest_seen = seen
        idx.loaded_from = "database"
        return idx

    @classmethod
    def from_snapshot(cls, user_id: int, model: str) -> "UserIndex | None":
        """The newest snapshot, or None when it is missing, foreign, stale-model, damaged or
        older than the pruned tombstones (it could not catch up)."""
        idx = cls.from_snapshot_file(user_id, model)
        if idx is None or idx.seq < position(user_id)[1]:
            return None
        return idx

    @classmethod
    def from_snapshot_file(cls, user_id: int, model: str) -> "UserIndex | None":
        """The snapshot's files alone, verified (no database access: safe in any thread)."""
        path = manifest_path(user_id, model)
        try:
            seen = _manifest_signature(path)
            manifest = json.loads(path.read_text())
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
            idx.manifest_seen = seen
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
            name = f"{_data_prefix(self.user_id, self.model)}{self.seq}-{os.getpid()}-{time.time_ns()}.bin"
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
        path = manifest_path(self.user_id, self.model)
        mtmp = path.with_suffix(".json.tmp")
        mtmp.write_text(json.dumps(manifest))
        os.replace(mtmp, path)
        for old in directory.glob(f"{_data_prefix(self.user_id, self.model)}*.bin"):
            if old.name != name:
                old.unlink(missing_ok=True)
        return data


def _data_prefix(user_id: int, model: str) -> str:
    return f"user-{user_id}-{_model_key(model)}-"


def _matrix(blobs: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), DIMENSIONS)


# --- the per-process registry ------------------------------------------------------
_indexes: dict[tuple[int, str], UserIndex] = {}
_registry_lock = threading.Lock()
_loading: dict[tuple[int, str], threading.Thread] = {}  # snapshot loads in the background
_loaded: dict[tuple[int, str], UserIndex] = {}  # their results, swapped in by the next search


def get_index(user_id: int, model: str | None = None) -> UserIndex:
    """This process's index of the user for `model` (default: the model the user's searches
    use), brought up to every committed vector."""
    searching = model is None
    state = position(user_id)
    model = model or state[2] or active_model(user_id)
    key = (user_id, model)
    idx = _indexes.get(key)
    if idx is None:
        with _registry_lock:
            idx = _indexes.get(key)
            if idx is None:
                if searching:
                    _drop_other_models(user_id, model)
                idx = _indexes[key] = UserIndex.load(user_id, model)
    idx = _swap_in_loaded_snapshot(key, idx)
    if not idx.catch_up(state):
        idx = _replace(key, idx, UserIndex.load(user_id, model))
    _look_for_better_snapshot(key, idx)
    return idx


def _replace(key, old: UserIndex, new: UserIndex) -> UserIndex:
    with _registry_lock:
        if _indexes.get(key) is old:
            _indexes[key] = new
        return _indexes.get(key, new)


def _drop_other_models(user_id: int, model: str) -> None:
    """The user's searches moved to `model`: the old model's index is dead weight (call
    with the registry lock held)."""
    for key in [k for k in _indexes if k[0] == user_id and k[1] != model]:
        del _indexes[key]


def _look_for_better_snapshot(key, idx: UserIndex) -> None:
    """Every RELOAD_CHECK_SECONDS at most: when the writer wrote a snapshot with fewer
    deleted elements than this index holds, load it in a background thread."""
    now = time.monotonic()
    if now - idx.checked_at < RELOAD_CHECK_SECONDS or key in _loading:
        return
    idx.checked_at = now
    path = manifest_path(*key)
    seen = _manifest_signature(path)
    if seen is None or seen == idx.manifest_seen:
        return
    idx.manifest_seen = seen
    try:
        deleted = json.loads(path.read_text()).get("deleted", 0)
    except Exception:  # being replaced, or damaged: the next change of the file gets another look
        return
    if deleted < idx.deleted:
        thread = threading.Thread(target=_load_in_background, args=(key, idx.deleted), daemon=True)
        with _registry_lock:
            if key in _loading:
                return
            _loading[key] = thread
        thread.start()


def _load_in_background(key, deleted_now: int) -> None:
    try:
        fresh = UserIndex.from_snapshot_file(*key)  # verified against its checksum, or None
        if fresh is not None and fresh.deleted < deleted_now:
            _loaded[key] = fresh
    finally:
        with _registry_lock:
            _loading.pop(key, None)


def _swap_in_loaded_snapshot(key, idx: UserIndex) -> UserIndex:
    """A snapshot loaded in the background replaces the index once it has caught up."""
    fresh = _loaded.pop(key, None)
    if fresh is None or not fresh.catch_up() or fresh.deleted >= idx.deleted:
        return idx
    log.info("search index of user %s: swapped in a snapshot with %d deleted elements (had %d)", key[0], fresh.deleted, idx.deleted)
    return _replace(key, idx, fresh)


def wait_for_background_loads(timeout: float = 30.0) -> None:
    """Wait for snapshot loads in flight (tests, and a clean shutdown)."""
    with _registry_lock:
        threads = list(_loading.values())
    for thread in threads:
        thread.join(timeout)


def forget(user_id: int | None = None, model: str | None = None) -> None:
    """Drop in-memory indexes (all, one user's, or one user's for one model) so the next
    search reloads."""
    wait_for_background_loads()
    with _registry_lock:
        for registry in (_indexes, _loaded):
            for key in [k for k in registry if user_id is None or (k[0] == user_id and model in (None, k[1]))]:
                del registry[key]


@contextmanager
def writer_lock(user_id: int):
    """Only one process writes a user's snapshot at a time."""
    with open(index_dir() / f"user-{user_id}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def write_snapshot(user_id: int, model: str | None = None, *, compact: bool | None = None) -> dict:
    """Bring the user's snapshot for `model` (default: the model their searches use) up to
    date; rebuild without deleted elements past the threshold."""
    with writer_lock(user_id):
        in_use = (active_model(user_id), model_name())
        model = model or in_use[0]
        if model not in in_use:
            # Retired by a model switch (checked under the lock drop_model takes after the
            # switch's commit): its files are gone, and a snapshot of it now would be empty
            # garbage, or emptied results for a search that still sees it active.
            return {"user_id": user_id, "seq": 0, "vectors": 0, "deleted": 0, "rebuilt": False, "retired": True}
        idx = UserIndex.from_snapshot(user_id, model)
        rebuilt = idx is None or not idx.catch_up()
        if rebuilt:
            idx = UserIndex.from_database(user_id, model)
        total = idx.index.get_current_count()
        if compact is None:
            compact = total and idx.deleted / total > settings.SEARCH_COMPACT_RATIO
        if compact and not rebuilt:
            idx = UserIndex.from_database(user_id, model)
            rebuilt = True
        idx.save()
        return {"user_id": user_id, "seq": idx.seq, "vectors": len(idx.live), "deleted": idx.deleted, "rebuilt": rebuilt}


def drop_model(user_id: int, model: str) -> None:
    """The user no longer searches with `model`: drop its in-memory index and snapshot."""
    forget(user_id, model)
    with writer_lock(user_id):
        manifest_path(user_id, model).unlink(missing_ok=True)
        for data in index_dir().glob(f"{_data_prefix(user_id, model)}*.bin"):
            data.unlink(missing_ok=True)


def snapshot_info(user_id: int, model: str | None = None) -> dict:
    try:
        manifest = json.loads(manifest_path(user_id, model).read_text())
        data = index_dir() / manifest["file"]
        return {
            "bytes": data.stat().st_size, "age_s": max(0.0, time.time() - manifest["written_at"]),
            "seq": manifest["seq"], "deleted": manifest.get("deleted", 0), "model": manifest["model"],
            "count": len(manifest["live"]),
        }
    except Exception:
        return {"bytes": 0, "age_s": None, "seq": 0, "deleted": 0, "model": "", "count": 0}
