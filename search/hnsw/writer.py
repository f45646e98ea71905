"""The one snapshot writer per user (the `index` queue's worker, and a file lock for
commands): brings the user's snapshot up to date from the previous one plus the database,
or rebuilds it from the database when it is missing, damaged or holds too many deleted
elements (SEARCH_COMPACT_RATIO)."""

import fcntl
from contextlib import contextmanager

from django.conf import settings

from search.hnsw import files, models_in_use, serving
from search.hnsw.user_index import UserIndex


@contextmanager
def writer_lock(user_id: int):
    """Only one process writes a user's snapshot at a time."""
    with open(files.index_dir() / f"user-{user_id}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def save(idx: UserIndex):
    """Write `idx` as the user's snapshot for its model."""
    with idx.lock.read():
        fields = {
            "seq": idx.seq, "capacity": idx.index.get_max_elements(), "live": sorted(idx.live), "deleted": idx.deleted,
        }
        return files.write(idx.user_id, idx.model, idx.index.save_index, fields)


def write_snapshot(user_id: int, model: str | None = None, *, compact: bool | None = None) -> dict:
    """Bring the user's snapshot for `model` (default: the model their searches use) up to
    date; rebuild without deleted elements past the threshold."""
    with writer_lock(user_id):
        model = model or models_in_use.in_use(user_id)[0]
        if models_in_use.retired(user_id, model):
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
        save(idx)
        return {"user_id": user_id, "seq": idx.seq, "vectors": len(idx.live), "deleted": idx.deleted, "rebuilt": rebuilt}


def drop_model(user_id: int, model: str) -> None:
    """The user no longer searches with `model`: drop its in-memory indexes (here and in
    searchd) and snapshot."""
    serving.forget(user_id, model)
    with writer_lock(user_id):
        files.remove(user_id, model)


def drop_user(user_id: int) -> None:
    """A deleted account: its in-memory indexes and every snapshot file, so none of its
    vectors outlive it on disk."""
    serving.forget(user_id)
    with writer_lock(user_id):
        files.remove_user(user_id)
    (files.index_dir() / f"user-{user_id}.lock").unlink(missing_ok=True)
