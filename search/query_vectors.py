"""A question's vector, kept so that asking it again does not embed it again (~1.7 ms of CPU).

The same question comes back for the next page of results, a filter changed in place and
the full page after the header's dropdown, and each of those requests may land on any of
the server's web processes (3 in the production command, 2 in make run). So a vector is
kept in this process (the last SEARCH_QUERY_VECTORS_KEPT questions) and, for the others,
in Redis (search/shared_per_user.py). When Redis does not answer, the question is embedded
here, as before anything was kept.
"""

import hashlib
from functools import lru_cache

import numpy as np
from django.conf import settings

from search import embedding
from search.models import DIMENSIONS
from search.shared_per_user import SharedPerUser

# ~1.7 kB a question: a lab of 50 members at most ~45 MB of Redis.
SHARED_SECONDS = 3600
SHARED_PER_USER = 512
_shared = SharedPerUser("query-vectors", SHARED_SECONDS, SHARED_PER_USER)


def query_vector(user_id: int, model: str, query: str) -> np.ndarray:
    """The question's vector in `model`, read-only (it is shared by later searches)."""
    return _kept(user_id, model, query)


@lru_cache(maxsize=settings.SEARCH_QUERY_VECTORS_KEPT)
def _kept(user_id: int, model: str, query: str) -> np.ndarray:
    field = hashlib.sha256(f"{model}\0{query}".encode()).digest()
    raw = _shared.get(user_id, field)
    if raw is not None and len(raw) == DIMENSIONS * 4:
        return np.frombuffer(raw, dtype="<f4")  # read-only: it views the bytes
    vector = np.ascontiguousarray(embedding.embed_query(query, model), dtype="<f4")
    vector.setflags(write=False)
    _shared.put(user_id, field, vector.tobytes())
    return vector


def forget() -> None:
    """Drop every kept vector, this process's and the shared ones: the next search embeds its
    question (tests count their own embeddings)."""
    _kept.cache_clear()
    _shared.forget()
