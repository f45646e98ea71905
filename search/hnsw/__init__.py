"""Per-user, per-model HNSW indexes (hnswlib, cosine) derived from the passage vectors in
the database. Each module has one job:

- `user_index`: one user's vectors in memory, and catching up with the database;
- `files`: the snapshot format on disk (data file + manifest with its checksum);
- `writer`: the one snapshot writer per user (the `index` queue's worker);
- `registry`: this process's indexes (per-user load locks, warm-up, memory budget, reloads);
- `serving`: whether searches use that registry or searchd's, the machine's one (setting
  SEARCH_INDEX_SOCKET): `daemon` is searchd, `remote` a web process's side of it, `wire`
  their messages;
- `models_in_use`: which model's index serves a user during a model switch;
- `rwlock`: the read-write lock around each in-memory index.

Every search sees every committed vector: a loaded snapshot is caught up from the database
before each search. Anything wrong with the files means the writer rebuilds them, off the
request path.
"""

from search.hnsw.files import index_dir, manifest_path
from search.hnsw.files import info as snapshot_info
from search.hnsw.registry import WarmingUp, memory_in_use, wait_for_background_loads
from search.hnsw.serving import forget, get_index, warming_up
from search.hnsw.user_index import UserIndex, current_seq, position
from search.hnsw.writer import drop_model, drop_user, write_snapshot

__all__ = [
    "UserIndex", "WarmingUp", "current_seq", "drop_model",
    "drop_user", "forget", "get_index", "index_dir", "manifest_path",
    "memory_in_use", "position", "snapshot_info", "wait_for_background_loads", "warming_up", "write_snapshot",
]
