"""A redis-server of a test's own, which the test may stop (the shared one on 6379 never is)."""

import shutil
from pathlib import Path

from kombu import pools

from lablog.celery import app
from lablog.redis_server import start_background


class PrivateRedis:
    def __init__(self, directory: Path):
        self.socket, self.data = directory / "r.sock", directory / "data"
        self.url = f"unix://{self.socket}"
        self.proc = None

    def start(self) -> None:
        self.proc = start_background(self.socket, self.data)

    def stop(self, lose_data: bool = False) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        if lose_data:  # a restart that lost every queued message
            shutil.rmtree(self.data)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def point_app_at_broker(url: str) -> None:
    """Send this process's tasks to another broker. Celery caches connections and producers,
    and kombu keeps a process-wide registry of pools keyed by connection: reset all of them,
    or a pool closed here is handed out again later as 'Acquire on closed pool'."""
    pools.reset()
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None
