"""What one web process made for a user's search, kept in Redis for the server's other
processes: a question's vector (search/query_vectors.py) and its rankings (search/
kept_rankings.py). The next page of results, a filter changed in place and the full page
after the header's dropdown may each land on any web process (3 in the production command).

One Redis hash per user and kind, not a key per question: the few keys the app looks up by
pattern (the workers' heartbeats, found by SCAN on every page) are not searched for among
thousands. A hash is kept `seconds` after its user's last new entry, and past `per_user`
entries it starts again, which bounds Redis's memory. Per user: one user's search never
makes another's faster, which would tell them what was searched. When Redis does not
answer, nothing is shared (each process makes its own, as before anything was shared).
"""

import redis

from lablog.backoff import Backoff
from lablog.redis_clients import redis_client

# Redis on the same network answers in well under a millisecond. One that does not answer
# within this is left alone for a while: a Redis outage must not make every search wait.
TIMEOUT_SECONDS = 0.1
RETRY_AFTER_SECONDS = 5.0
_redis_backoff = Backoff(RETRY_AFTER_SECONDS)


class SharedPerUser:
    """Values by (user, field) under `lablog:<kind>:<user id>`."""

    def __init__(self, kind: str, seconds: int, per_user: int):
        self.prefix, self.seconds, self.per_user = f"lablog:{kind}:", seconds, per_user

    def get(self, user_id: int, field: bytes) -> bytes | None:
        return _ask_redis(lambda client: client.hget(f"{self.prefix}{user_id}", field))

    def put(self, user_id: int, field: bytes, value: bytes) -> None:
        _ask_redis(lambda client: self._put(client, f"{self.prefix}{user_id}", field, value))

    def _put(self, client, key: str, field: bytes, value: bytes) -> None:
        pipe = client.pipeline(transaction=False)
        pipe.hset(key, field, value)
        pipe.expire(key, self.seconds)
        pipe.hlen(key)
        if pipe.execute()[-1] > self.per_user:
            client.delete(key)

    def forget(self) -> None:
        """Drop every user's entries (tests)."""
        _redis_backoff.reset()

        def delete_all(client):
            keys = list(client.scan_iter(match=self.prefix + "*", count=1000))
            if keys:
                client.delete(*keys)

        _ask_redis(delete_all)


def _ask_redis(call):
    """call(client)'s answer; None when Redis does not answer (then not asked for a while)."""
    if _redis_backoff.paused:
        return None
    try:
        return call(redis_client(TIMEOUT_SECONDS))
    except (redis.RedisError, OSError):
        _redis_backoff.failed()
        return None
