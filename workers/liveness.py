"""Which Celery workers are alive, and on which queues.

Each worker's main process writes a heartbeat key to Redis every few seconds
with a short expiry; a page asks Redis (one round trip) instead of broadcasting
a ping to every worker, which would cost a second per page view.
"""

import json
import socket
import threading

import redis
from django.conf import settings

HEARTBEAT_SECONDS = 5
EXPIRES_SECONDS = 20
_PREFIX = "lablog:worker:"


def redis_client(timeout: float = 0.5) -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout)


def alive_workers() -> list[dict] | None:
    """The live workers (hostname, queues, pid, device), or None when Redis does not answer."""
    try:
        client = redis_client()
        keys = list(client.scan_iter(match=_PREFIX + "*", count=100))
        values = client.mget(keys) if keys else []
    except (redis.RedisError, OSError):
        return None
    return sorted((json.loads(v) for v in values if v), key=lambda w: w["hostname"])


def queue_has_worker(queue: str) -> bool:
    return any(queue in w["queues"] for w in alive_workers() or [])


class Heartbeat:
    """Runs in a worker's main process from worker_ready to worker_shutdown."""

    def __init__(self, hostname: str, queues: list[str], device: str = ""):
        self.key = _PREFIX + hostname
        self.payload = json.dumps(
            {"hostname": hostname, "queues": sorted(queues), "host": socket.gethostname(), "device": device}
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="lablog-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        try:
            redis_client().delete(self.key)
        except (redis.RedisError, OSError):
            pass

    def _beat(self) -> None:
        while not self._stop.is_set():
            try:
                redis_client().set(self.key, self.payload, ex=EXPIRES_SECONDS)
            except (redis.RedisError, OSError):
                pass  # Redis is down: the key expires and pages show no worker, which is true.
            self._stop.wait(HEARTBEAT_SECONDS)
