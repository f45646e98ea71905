"""Which Celery workers are alive, on which queues, and what they can run.

Each worker's main process writes a heartbeat key to Redis every few seconds
with a short expiry; a page asks Redis (one round trip) instead of broadcasting
a ping to every worker, which would cost a second per page view. The heartbeat
announces the worker's queues, its devices (name, memory) and, per job kind it
can run, what it offers (e.g. the models of cfg_text): the web app offers kinds
and models from these announcements, never from its own environment.
"""

import json
import socket
import threading

import redis

from lablog.redis_clients import redis_client

HEARTBEAT_SECONDS = 5
EXPIRES_SECONDS = 20
_PREFIX = "lablog:worker:"


def alive_workers() -> list[dict] | None:
    """The live workers (hostname, queues, host, devices, kinds), or None when Redis does not answer."""
    try:
        client = redis_client()
        keys = list(client.scan_iter(match=_PREFIX + "*", count=100))
        values = client.mget(keys) if keys else []
    except (redis.RedisError, OSError):
        return None
    return sorted((json.loads(v) for v in values if v), key=lambda w: w["hostname"])


def workers_for_kind(kind: str, workers: list[dict] | None) -> list[dict]:
    """The live workers that announce they can run `kind`."""
    return [w for w in workers or [] if kind in w.get("kinds", {})]


def announced_models(kind: str, workers: list[dict] | None) -> list[str]:
    """Every model some live worker offers for `kind`, in order of first announcement."""
    return list(dict.fromkeys(m for w in workers_for_kind(kind, workers) for m in w["kinds"][kind].get("models", [])))


def describe_worker(worker: dict) -> str:
    """"gpu0@lab (NVIDIA H200, 141 GB)" for a page."""
    devices = ", ".join(
        f"{d['name']}, {d['memory_bytes'] / 1e9:.0f} GB" if d.get("memory_bytes") else d["name"]
        for d in worker.get("devices", [])
    )
    return f"{worker['hostname']} ({devices})" if devices else worker["hostname"]


class Heartbeat:
    """Runs in a worker's main process from worker_ready to worker_shutdown."""

    def __init__(self, hostname: str, queues: list[str], devices: list[dict] | None = None,
                 kinds: dict[str, dict] | None = None):
        self.key = _PREFIX + hostname
        self.payload = json.dumps({
            "hostname": hostname, "queues": sorted(queues), "host": socket.gethostname(),
            "devices": devices or [], "kinds": kinds or {},
        })
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
