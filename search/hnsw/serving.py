"""Which registry serves this process's searches: searchd over SEARCH_INDEX_SOCKET when it
is set (search/hnsw/remote.py), else this process's own (search/hnsw/registry.py). Read
at each call, so a test or a command can switch."""

from django.conf import settings

from search.hnsw import registry, remote


def get_index(user_id: int, state: tuple | None = None):
    """The user's index for the model their searches use, caught up with every committed
    vector: a UserIndex, or a RemoteIndex with the same query interface. Raises WarmingUp.
    `state`: the user's position() where the caller has read it in the same view (a search
    keys what it keeps on it too: one read, not two)."""
    if settings.SEARCH_INDEX_SOCKET:
        return remote.get_index(user_id, state)
    return registry.get_index(user_id, state=state)


def warming_up(user_id: int) -> bool:
    """Whether this process's last search of the user found no index by meaning."""
    if settings.SEARCH_INDEX_SOCKET:
        return remote.warming_up(user_id)
    return registry.warming_up(user_id)


def forget(user_id: int | None = None, model: str | None = None) -> None:
    """Drop in-memory indexes (all, one user's, or one user's for one model) here and in
    searchd, so the next search reloads."""
    registry.forget(user_id, model)
    if settings.SEARCH_INDEX_SOCKET:
        remote.forget(user_id, model)
