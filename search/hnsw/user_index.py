"""One user's vectors for one model in memory (an hnswlib graph, cosine), and how it
catches up with the database: every commit that adds or removes vectors takes the user's
next index position (UserIndexState.seq), so adding the rows and applying the tombstones
after the position an index covers brings it up to every committed vector."""

import logging
import time

import hnswlib
import numpy as np
from django.conf import settings

from search.hnsw import files
from search.hnsw.rwlock import RWLock
from search.models import DIMENSIONS, Passage, Tombstone, UserIndexState
from search.prepared import Prepared

log = logging.getLogger(__name__)
ROWS_PER_BATCH = 2000
# hnswlib's bytes per element: the vector, the level-0 links (2M), their count and the label.
BYTES_PER_ELEMENT = DIMENSIONS * 4 + 2 * 16 * 4 + 4 + 8


# Every search reads it: its SQL compiled once (search/prepared.py).
_POSITION = Prepared(lambda user_id: UserIndexState.objects.filter(user_id=user_id).values_list("seq", "pruned_seq", "active_model"))


def position(user_id: int) -> tuple[int, int, str]:
    """(index position, pruned position, recorded active model) of the user, read at once:
    a model switch changes the active model and removes the old vectors in one commit."""
    rows = _POSITION.rows(user_id)  # one row a user at most (user_id is its key)
    return rows[0] if rows else (0, 0, "")


def current_seq(user_id: int) -> int:
    return position(user_id)[0]


def _matrix(blobs: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), DIMENSIONS)


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

    def nbytes(self) -> int:
        """About what the index holds in memory (the memory budget counts this)."""
        return self.index.get_max_elements() * BYTES_PER_ELEMENT + 64 * len(self.live)

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
            .iterator(chunk_size=ROWS_PER_BATCH)
        )
        batch_ids, batch_vecs = [], []
        for pk, vector in rows:
            batch_ids.append(pk)
            batch_vecs.append(bytes(vector))
            if len(batch_ids) == ROWS_PER_BATCH:
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
    def from_database(cls, user_id: int, model: str) -> "UserIndex":
        """Every vector of the user in `model`, read from the database (the index writer's
        job and commands': at 100k passages this takes half a minute)."""
        seen = files.signature(files.manifest_path(user_id, model))
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
        try:
            found = files.read_manifest(user_id, model)
            if found is None:
                return None
            manifest, data, seen = found
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
        except Exception:  # a truncated, garbage or foreign file: the index writer rebuilds it
            log.warning("search index snapshot for user %s is unusable", user_id, exc_info=True)
            return None

    # --- querying --------------------------------------------------------------------
    def query(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(passage id, cosine similarity) of the k nearest live vectors."""
        return self.query_many(vector.reshape(1, -1), k)[0]

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
                    # Too few reachable elements for k (many deleted): ask for fewer.
                    if k <= 1:
                        return [[] for _ in range(len(vectors))]
                    k //= 2
        return [[(int(l), 1.0 - float(d)) for l, d in zip(ls, ds)] for ls, ds in zip(labels, distances)]

    def vectors(self, labels: list[int]) -> np.ndarray:
        with self.lock.read():
            return np.asarray(self.index.get_items(labels), dtype=np.float32)
