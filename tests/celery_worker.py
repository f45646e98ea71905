"""A real Celery worker in a subprocess, pointed at the test database and broker."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import redis
from django.db import connection

from lablog.redis_clients import redis_client
from workers.liveness import alive_workers

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """DATABASE_URL of the test database pytest-django created (its name differs from the settings')."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    user = s.get("USER") or ""
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{s['NAME']}"


class CeleryWorker:
    def __init__(self, queues: list[str], concurrency: int = 1, pool: str = "prefork", extra_env: dict | None = None,
                 cwd: Path = ROOT):
        self.queues = queues
        self.cwd = cwd  # the code it runs: another directory simulates another machine
        self.concurrency = concurrency
        self.pool = pool
        self.hostname = f"test-{uuid.uuid4().hex[:8]}@localhost"
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None
        self.log_path = ROOT / "var" / "test" / "logs" / f"{self.hostname.split('@')[0]}.log"

    def start(self, timeout: float = 90.0) -> "CeleryWorker":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, DATABASE_URL=test_database_url(), **self.extra_env)
        cmd = [
            sys.executable, "-m", "celery", "-A", "lablog", "worker",
            "--queues", ",".join(self.queues), "--concurrency", str(self.concurrency),
            "--pool", self.pool, "--hostname", self.hostname, "--loglevel", "INFO",
            "--without-gossip", "--without-mingle",
        ]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=self.cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not any(w["hostname"] == self.hostname for w in alive_workers() or []):
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker did not come up within {timeout}s:\n{self.log()}")
            time.sleep(0.2)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children), as a crash would."""
        if self.proc and self.proc.poll() is None:
            import psutil

            parent = psutil.Process(self.proc.pid)
            for child in parent.children(recursive=True):
                child.kill()
            parent.kill()
            self.proc.wait(10)
        # A killed worker cannot remove its heartbeat; drop it so later tests see no ghost worker.
        # A test that stopped its Redis has no heartbeat left to drop (and no later test reads it).
        try:
            redis_client().delete(f"lablog:worker:{self.hostname}")
        except redis.RedisError:
            pass

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
