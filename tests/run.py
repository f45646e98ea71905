#!/usr/bin/env python
"""`make test`: run the suite against the real services this machine has.

PostgreSQL at 127.0.0.1:5432 (database `test`) and Redis at 127.0.0.1:6379 are used
when they answer; otherwise the suite runs on SQLite and an embedded redis-server,
as on a laptop. With PostgreSQL the whole suite runs on it, then everything but the
browser tests and the demo-training tests (neither depends on the database engine) runs
again on SQLite, so both database backends are exercised.
CI (CI=true) must exercise PostgreSQL, so there a missing server is an error.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_HOST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


def postgres_answers() -> bool:
    try:
        import psycopg

        psycopg.connect(PG_URL.replace("postgres://", "postgresql://", 1), connect_timeout=3).close()
        return True
    except Exception:
        return False


def pytest(env: dict, args: list[str]) -> int:
    return subprocess.call([sys.executable, "-m", "pytest", *args], cwd=ROOT, env=env)


def main() -> int:
    from lablog import redis_server

    args = sys.argv[1:]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env.setdefault("LABLOG_VAR_DIR", str(ROOT / "var" / "test"))
    embedded = None
    with tempfile.TemporaryDirectory(prefix="lablog-redis-") as tmp:
        if redis_server.ping(REDIS_HOST_URL):
            env["REDIS_URL"] = REDIS_HOST_URL
            print(f"tests: Redis at {REDIS_HOST_URL}")
        else:
            sock = Path(tmp) / "redis.sock"
            embedded = redis_server.start_background(sock, Path(tmp) / "data")
            env["REDIS_URL"] = f"unix://{sock}"
            print("tests: no Redis on 6379, using an embedded redis-server")
        try:
            codes = []
            if postgres_answers():
                print(f"tests: PostgreSQL at {PG_URL} (whole suite)")
                codes.append(pytest(dict(env, DATABASE_URL=PG_URL), args))
                # Browser tests and the training demos do not depend on the database engine: once is enough.
                print("tests: SQLite (everything but the browser tests and the training demos)")
                codes.append(pytest({k: v for k, v in env.items() if k != "DATABASE_URL"}, ["-m", "not browser and not jobs", *args]))
            elif os.environ.get("CI") == "true":
                print(f"tests: CI must exercise PostgreSQL, but {PG_URL} does not answer", file=sys.stderr)
                return 2
            else:
                print("tests: no PostgreSQL on 5432, SQLite only (whole suite)")
                codes.append(pytest({k: v for k, v in env.items() if k != "DATABASE_URL"}, args))
        finally:
            if embedded is not None:
                embedded.terminate()
                embedded.wait(10)
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
