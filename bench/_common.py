"""Shared by the bench scripts: an isolated Lablog (its own var dir, SQLite database or
DATABASE_URL, embedded redis-server) with real Celery workers, set up before Django."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "notes-corpus.json"
DEFAULT_QUERIES = ROOT.parent / "shared" / "eval" / "dev-queries.json"
DEV_QUERIES = (DEFAULT_QUERIES, ROOT.parent / "shared" / "eval" / "dev-queries-2.json")
sys.path.insert(0, str(ROOT))


class Lab:
    """`with Lab("quality") as lab:` -> Django set up on a fresh database; lab.worker() starts workers."""

    def __init__(self, name: str, keep_db_url: bool = True):
        (ROOT / "var").mkdir(exist_ok=True)  # absent on a fresh clone until `make run`
        self.var = Path(tempfile.mkdtemp(prefix=f"lablog-bench-{name}-", dir=ROOT / "var"))
        self.sock = self.var / "redis.sock"
        self.redis = None
        self.workers: list[subprocess.Popen] = []
        self.env = dict(
            os.environ, LABLOG_VAR_DIR=str(self.var), REDIS_URL=f"unix://{self.sock}", HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", DJANGO_SETTINGS_MODULE="lablog.settings",
            # The ONNX export of the model is made once and kept between bench runs.
            SEARCH_MODELS_DIR=os.environ.get("SEARCH_MODELS_DIR", str(ROOT / "var" / "models")),
        )
        if not keep_db_url:
            self.env.pop("DATABASE_URL", None)
        self.db_name = None

    def __enter__(self):
        from lablog import redis_server

        self.redis = redis_server.start_background(self.sock, self.var / "redis")
        if self.env.get("DATABASE_URL", "").startswith("postgres"):
            # A database of our own on the PostgreSQL server, dropped afterwards.
            import psycopg

            base = self.env["DATABASE_URL"]
            self.db_name = f"lablog_bench_{os.getpid()}"
            admin_url = base.replace("postgres://", "postgresql://", 1)
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.db_name}"')
            self.env["DATABASE_URL"] = base.rsplit("/", 1)[0] + "/" + self.db_name
        os.environ.update(self.env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        return self

    def worker(self, queues="embed,index,default", concurrency=1) -> subprocess.Popen:
        from workers.liveness import alive_workers

        hostname = f"bench-{len(self.workers)}-{os.getpid()}@localhost"
        log = open(self.var / f"{hostname.split('@')[0]}.log", "wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "lablog", "worker", "--queues", queues, "--concurrency",
             str(concurrency), "--pool", "prefork", "--hostname", hostname, "--loglevel", "WARNING",
             "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        self.workers.append(proc)
        deadline = time.monotonic() + 120
        while not any(w["hostname"] == hostname for w in alive_workers() or []):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"bench worker did not start; see {log.name}")
            time.sleep(0.2)
        return proc

    def __exit__(self, *exc):
        for proc in self.workers:
            proc.terminate()
        for proc in self.workers:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        from django.db import connections

        connections.close_all()
        if self.redis:
            self.redis.terminate()
            self.redis.wait(10)
        if self.db_name:
            import psycopg

            with psycopg.connect(os.environ["DATABASE_URL"].rsplit("/", 1)[0].replace("postgres://", "postgresql://", 1) + "/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        shutil.rmtree(self.var, ignore_errors=True)


def wait_indexed(user, timeout: float = 1800, quiet: bool = False) -> float:
    """Seconds until every note of the user has its vectors in."""
    from notes.models import Note
    from search.models import IndexedSource

    started = time.monotonic()
    total = Note.objects.for_user(user).count()
    while True:
        done = IndexedSource.objects.filter(user=user, kind="note", state="indexed").count()
        stale = IndexedSource.objects.filter(user=user, kind="note", state="failed").count()
        if not quiet:
            print(f"\r  indexed {done}/{total}", end="", file=sys.stderr, flush=True)
        if done + stale >= total:
            if not quiet:
                print(file=sys.stderr)
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"only {done}/{total} notes indexed after {timeout}s")
        time.sleep(0.5)


def load_json(path) -> list:
    return json.loads(Path(path).read_text())
