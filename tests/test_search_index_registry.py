"""The per-process registry of indexes: one user's slow load never holds up another user's
first search, and past the memory budget the least recently used index is dropped (and
loaded again from its snapshot by its next search)."""

import threading
import time

import pytest

from search import hnsw
from tests.search_fixtures import index_notes, semantic_results


@pytest.fixture
def two_users(user, other_user):
    index_notes(user)
    index_notes(other_user)
    hnsw.forget()
    return user, other_user


def test_one_users_slow_load_never_holds_up_another_users_first_search(two_users, monkeypatch):
    slow, quick = two_users
    release, started = threading.Event(), threading.Event()
    real_load = hnsw.UserIndex.from_snapshot_file

    def load(user_id, model):
        if user_id == slow.pk:
            started.set()
            release.wait(30)
        return real_load(user_id, model)

    monkeypatch.setattr(hnsw.UserIndex, "from_snapshot_file", staticmethod(load))
    from django.db import connections

    def search_slow():
        try:
            hnsw.get_index(slow.pk)
        finally:
            connections.close_all()

    thread = threading.Thread(target=search_slow)
    thread.start()
    try:
        assert started.wait(10)
        begun = time.perf_counter()
        assert hnsw.get_index(quick.pk).loaded_from == "snapshot"
        assert time.perf_counter() - begun < 2.0  # not behind the slow user's load
    finally:
        release.set()
        thread.join(30)


def test_past_the_memory_budget_the_least_recently_used_index_is_dropped(two_users, settings):
    first, second = two_users
    expected = semantic_results(first)
    one_index = hnsw.get_index(first.pk).nbytes()
    settings.SEARCH_INDEX_MEMORY_MB = one_index * 1.5 / 2**20  # room for one index, not two
    hnsw.get_index(second.pk)
    assert hnsw.memory_in_use() <= settings.SEARCH_INDEX_MEMORY_MB * 2**20
    assert hnsw.registry._indexes.keys() == {(second.pk, hnsw.get_index(second.pk).model)}
    assert semantic_results(first) == expected  # loaded again from its snapshot
    assert list(hnsw.registry._indexes)[-1][0] == first.pk
