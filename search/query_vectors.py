"""A question's vector, kept so that asking it again does not embed it again (~1.7 ms of CPU).

The same question comes back for the next page of results, a filter changed in place and
the full page after the header's dropdown, and each of those requests may land on any of
the server's web processes (3 in the production command, 2 in make run). So a vector is
kept in this process (the last SEARCH_QUERY_VECTORS_KEPT questions) and, for the others,
in Redis for SHARED_SECONDS. Per user: one user's search never makes another's faster,
which would tell them what was searched. When Redis does not answer, the question is
embedded here, as before anything was kept.
"""

import hashlib
from functools import lru_cache

import numpy as np
import redis
from django.conf import settings

from lablog.backoff import Backoff
from lablog.redis_clients import redis_client
from search import embedding
from search.models import DIMENSIONS

# A user's vectors are one Redis hash, kept SHARED_SECONDS after their last new question: one
# key per user, not per question, so that the few keys the app looks up by pattern (the
# workers' heartbeats, found by SCAN on every page) are not searched for among thousands.
# Past SHARED_PER_USER questions the user's hash starts again, which bounds Redis's memory
# (~1.7 kB a question: a lab of 50 members at most ~45 MB).
SHARED_SECONDS = 3600
SHARED_PER_USER = 512
# Redis on the same network answers in well under a millisecond. One that does not answer
# within this is left alone for a while: a Redis outage must not make every search wait
# (the question is embedded here instead, as it would be anyway).
TIMEOUT_SECONDS = 0.1
RETRY_AFTER_SECONDS = 5.0
_PREFIX = "lablog:query-vectors:"
_redis_backoff = Backoff(RETRY_AFTER_SECONDS)


def query_vector(user_id: int, model: str, query: str) -> np.ndarray:
    """The question's vector in `model`, read-only (it is shared by later searches)."""
    return _kept(user_id, model, query)


@lru_cache(maxsize=settings.SEARCH_QUERY_VECTORS_KEPT)
def _kept(user_id: int, model: str, query: str) -> np.ndarray:
    key, field = f"{_PREFIX}{user_id}", hashlib.sha256(f"{model}\0{query}".encode()).digest()
    raw = _ask_redis(lambda client: client.hget(key, field))
    if raw is not None and len(raw) == DIMENSIONS * 4:
        return np.frombuffer(raw, dtype="<f4")  # read-only: it views the bytes
    vector = np.ascontiguousarray(embedding.embed_query(query, model), dtype="<f4")
    vector.setflags(write=False)
    _ask_redis(lambda client: _share(client, key, field, vector.tobytes()))
    return vector


def _share(client, key: str, field: bytes, value: bytes) -> None:
    pipe = client.pipeline(transaction=False)
    pipe.hset(key, field, value)
    pipe.expire(key, SHARED_SECONDS)
    pipe.hlen(key)
    if pipe.execute()[-1] > SHARED_PER_USER:
        client.delete(key)


def _ask_redis(call):
    """call(client)'s answer; None when Redis does not answer (then not asked for a while)."""
    if _redis_backoff.paused:
        return None
    try:
        return call(redis_client(TIMEOUT_SECONDS))
    except (redis.RedisError, OSError):
        _redis_backoff.failed()
        return None


def forget() -> None:
    """Drop every kept vector, this process's and the shared ones: the next search embeds its
    question (tests count their own embeddings)."""
    _kept.cache_clear()
    _redis_backoff.reset()

    def delete_all(client):
        keys = list(client.scan_iter(match=_PREFIX + "*", count=1000))
        if keys:
            client.delete(*keys)

    _ask_redis(delete_all)
