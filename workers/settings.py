"""Settings of the workers app, read from the environment; imported into lablog.settings."""

from pathlib import Path

from lablog.env import envint, envstr, var_dir

# A running job's worker stamps the run row every RUNS_HEARTBEAT_SECONDS; a run whose
# stamp is older than RUNS_LEASE_SECONDS is failed as "worker lost" by the reaper, which
# beat starts every RUNS_REAPER_SECONDS. Recovery never waits for the broker's visibility timeout.
RUNS_HEARTBEAT_SECONDS = envint("RUNS_HEARTBEAT_SECONDS", 5)
RUNS_LEASE_SECONDS = envint("RUNS_LEASE_SECONDS", 60)
RUNS_REAPER_SECONDS = envint("RUNS_REAPER_SECONDS", 30)
# A queued run sent this long ago while a worker on its queue is idle (or never sent at all)
# is sent again by the reaper: the broker lost its message. Duplicates are harmless (claim).
RUNS_REDISPATCH_SECONDS = envint("RUNS_REDISPATCH_SECONDS", 120)
# A run artifact up to this size is kept in the database row, so a worker on another machine needs
# nothing but DATABASE_URL and REDIS_URL; a larger one goes to the default storage, which must then
# be shared (S3 through django-storages) when workers run elsewhere.
RUNS_ARTIFACT_DB_MAX_BYTES = envint("RUNS_ARTIFACT_DB_MAX_BYTES", 16 * 1024 * 1024)
# Keep the last this many characters of a run's log in the database.
RUNS_LOG_MAX_CHARS = envint("RUNS_LOG_MAX_CHARS", 200_000)
# Trained checkpoints reused by jobs (per worker machine; a cache, safe to delete).
RUNS_CACHE_DIR = Path(envstr("RUNS_CACHE_DIR", str(var_dir() / "cache" / "jobs")))
# torch CPU threads of a job on a worker without CUDA: the demo models are small, and on a shared
# CPU torch's spinning worker threads made them up to 20× slower than one thread.
RUNS_CPU_THREADS = envint("RUNS_CPU_THREADS", 1)
# A local Hugging Face causal-LM directory a worker offers to cfg_text under its directory name
# (empty: workers offer only the built-in notes-gpt).
CFG_TEXT_MODEL = envstr("CFG_TEXT_MODEL", "")

WORKERS_BEAT_SCHEDULE = {
    "reap-lost-runs": {"task": "workers.reap_lost_runs", "schedule": float(RUNS_REAPER_SECONDS)},
}
