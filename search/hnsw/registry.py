"""This process's in-memory indexes, one per user and model, least recently used first.
Run by searchd (search/hnsw/daemon.py), it is the machine's one set for every web process.

A search loads the user's index from its snapshot (verified, then caught up from the
database) under a lock of that user's alone, so one user's load never holds up another's
search. It never rebuilds a large index from the database: without a usable snapshot it
raises WarmingUp (search answers by words and says so) and asks the index writer for one;
only a collection small enough to build at once (SEARCH_REQUEST_BUILD_MAX_VECTORS) is
built in the request. Past SEARCH_INDEX_MEMORY_MB the least recently used indexes are
dropped (the next search of theirs loads the snapshot again).

A long-running process notices newer snapshots: at most every RELOAD_CHECK_SECONDS it
stats the manifest, and when the writer has written one with fewer deleted elements than
its own index holds (a compaction), a background thread loads and verifies it; the next
search catches it up and swaps it in, searches meanwhile answering from the old one.
Tombstones are pruned once old and covered by the snapshot (UserIndexState.pruned_seq):
an index older than that position cannot catch up and is reloaded instead.
"""

import json
import logging
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager

from django.conf import settings

from search.hnsw import files, models_in_use
from search.hnsw.user_index import UserIndex, position
from search.models import Passage

log = logging.getLogger(__name__)
RELOAD_CHECK_SECONDS = 5.0  # how often a searching process looks for a newer snapshot
ASK_AGAIN_SECONDS = 30.0  # how often a process asks the writer again for a missing snapshot

Key = tuple[int, str]  # (user id, model)


class WarmingUp(Exception):
    """The user's index has no usable snapshot yet; the index writer is building one."""


_indexes: "OrderedDict[Key, UserIndex]" = OrderedDict()  # least recently used first
_registry_lock = threading.Lock()
_load_locks: dict[Key, threading.Lock] = {}
_asked: dict[Key, float] = {}  # snapshots asked of the writer (monotonic time), until one loads
_loading: dict[Key, threading.Thread] = {}  # snapshot reloads in the background
_loaded: dict[Key, UserIndex] = {}  # their results, swapped in by the next search


def get_index(user_id: int, model: str | None = None, searching: bool | None = None, state: tuple | None = None) -> UserIndex:
    """This process's index of the user for `model` (default: the model the user's searches
    use), brought up to every committed vector. Raises WarmingUp when there is none to load.
    `searching`: the user's searches use `model` (true when it is not given; searchd is
    told the model its caller's searches use), so other models' indexes of theirs go.
    `state`: the user's position() where the caller has read it in the same view."""
    searching = model is None if searching is None else searching
    state = state or position(user_id)
    model = model or models_in_use.searched(user_id, state[2])
    key = (user_id, model)
    idx = _lookup(key) or _load(key, state, searching)
    idx = _swap_in_loaded_snapshot(key, idx)
    if not idx.catch_up(state):
        _discard(key, idx)
        idx = _load(key, state, searching)
    _look_for_better_snapshot(key, idx)
    return idx


def warming_up(user_id: int) -> bool:
    """Whether this process's last search of the user found no index to load."""
    with _registry_lock:
        return any(k[0] == user_id and k not in _indexes for k in _asked)


def held(user_id: int, model: str) -> UserIndex | None:
    """The index this process holds for the user and model, as last caught up (no database
    read), or None."""
    return _lookup((user_id, model))


def _lookup(key: Key) -> UserIndex | None:
    with _registry_lock:
        idx = _indexes.get(key)
        if idx is not None:
            _indexes.move_to_end(key)
        return idx


@contextmanager
def _key_lock(key: Key):
    with _registry_lock:
        lock = _load_locks.setdefault(key, threading.Lock())
    with lock:
        yield


def _load(key: Key, state: tuple, searching: bool) -> UserIndex:
    with _key_lock(key):
        idx = _lookup(key)  # another thread of this process loaded it meanwhile
        if idx is not None:
            return idx
        idx = UserIndex.from_snapshot_file(*key)
        if idx is None or not idx.catch_up(state):
            idx = _build_if_small(key, state)
            _ask_for_snapshot(key)
        if idx is None:
            raise WarmingUp(f"the search index of user {key[0]} is being built")
        with _registry_lock:
            if searching:
                # The user's searches moved to this model: the old one's index is dead weight.
                for other in [k for k in _indexes if k[0] == key[0] and k[1] != key[1]]:
                    del _indexes[other]
            _indexes[key] = idx
            _asked.pop(key, None)
            _evict(keep=key)
        return idx


def _build_if_small(key: Key, state: tuple) -> UserIndex | None:
    """A collection this small builds in well under a second: a new user's first notes are
    found by meaning before the writer's first snapshot."""
    user_id, model = key
    limit = settings.SEARCH_REQUEST_BUILD_MAX_VECTORS
    rows = Passage.objects.filter(user_id=user_id, model=model, seq__lte=state[0]).exclude(vector=None)
    if rows.values("pk")[: limit + 1].count() > limit:
        return None
    return UserIndex.from_database(user_id, model)


def _ask_for_snapshot(key: Key) -> None:
    """Enqueue the writer's snapshot of the user (at most every ASK_AGAIN_SECONDS)."""
    from search.receivers import enqueue
    from search.tasks import snapshot_user

    now = time.monotonic()
    with _registry_lock:
        if now - _asked.get(key, -ASK_AGAIN_SECONDS) < ASK_AGAIN_SECONDS:
            return
        _asked[key] = now
    log.info("search index of user %s has no usable snapshot: asked the index writer for one", key[0])
    enqueue(snapshot_user, key[0])


def _evict(keep: Key) -> None:
    """Drop least recently used indexes past the memory budget (call with the registry lock)."""
    budget = settings.SEARCH_INDEX_MEMORY_MB * 2**20
    if budget <= 0:
        return
    total = sum(idx.nbytes() for idx in _indexes.values())
    for key in list(_indexes):
        if total <= budget:
            break
        if key != keep:
            total -= _indexes.pop(key).nbytes()
            log.info("search index of user %s evicted (memory budget %d MB)", key[0], settings.SEARCH_INDEX_MEMORY_MB)


def memory_in_use() -> int:
    with _registry_lock:
        return sum(idx.nbytes() for idx in _indexes.values())


def held_keys() -> list[Key]:
    """(user id, model) of the indexes held, least recently used first."""
    with _registry_lock:
        return list(_indexes)


def _discard(key: Key, idx: UserIndex) -> None:
    with _registry_lock:
        if _indexes.get(key) is idx:
            del _indexes[key]


def _replace(key: Key, old: UserIndex, new: UserIndex) -> UserIndex:
    with _registry_lock:
        if _indexes.get(key) is old:
            _indexes[key] = new
        return _indexes.get(key, new)


def _look_for_better_snapshot(key: Key, idx: UserIndex) -> None:
    """Every RELOAD_CHECK_SECONDS at most: when the writer wrote a snapshot with fewer
    deleted elements than this index holds, load it in a background thread."""
    now = time.monotonic()
    if now - idx.checked_at < RELOAD_CHECK_SECONDS or key in _loading:
        return
    idx.checked_at = now
    path = files.manifest_path(*key)
    seen = files.signature(path)
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


def _load_in_background(key: Key, deleted_now: int) -> None:
    try:
        fresh = UserIndex.from_snapshot_file(*key)  # verified against its checksum, or None
        if fresh is not None and fresh.deleted < deleted_now:
            _loaded[key] = fresh
    finally:
        with _registry_lock:
            _loading.pop(key, None)


def _swap_in_loaded_snapshot(key: Key, idx: UserIndex) -> UserIndex:
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
        for held in (_indexes, _loaded, _asked):
            for key in [k for k in held if user_id is None or (k[0] == user_id and model in (None, k[1]))]:
                del held[key]
