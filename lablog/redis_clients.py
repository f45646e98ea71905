"""The Redis client of this process, for what the app keeps in Redis besides Celery's
messages (worker heartbeats, sign-in throttling, kept question vectors)."""

import redis
from django.conf import settings

_clients: dict[tuple[str, float], redis.Redis] = {}


def redis_client(timeout: float = 0.5) -> redis.Redis:
    """A client kept per process (its pool reconnects after a fork): a new one for every page
    cost ~0.7 ms of CPU (a connection, and redis-py reading its package metadata each time)."""
    key = (settings.REDIS_URL, timeout)
    if key not in _clients:
        _clients[key] = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout)
    return _clients[key]
