"""A search reads one instant of the database, and only while it runs: the connection it
used (kept between requests) reads what others commit afterwards, failed search or not."""

import threading

import pytest
from django.db import connection

from notes.models import Note
from search import keyword, services


def create_note_elsewhere(user, title: str) -> None:
    """Commit a note from another connection, as another request or a worker would."""

    def create():
        try:
            Note.objects.create_note(user, title=title, body="Written by someone else meanwhile.")
        finally:
            connection.close()

    thread = threading.Thread(target=create)
    thread.start()
    thread.join()


def test_after_a_search_the_connection_reads_what_others_commit(user, transactional_db):
    services.search(user, "anything", mode="keyword")
    create_note_elsewhere(user, "Committed after the search")
    assert Note.objects.filter(title="Committed after the search").exists()


def test_a_failed_search_leaves_no_stale_read_behind(user, transactional_db, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("keyword engine down")

    monkeypatch.setattr(keyword, "search_passages", broken)
    with pytest.raises(RuntimeError):
        # Hybrid: the index position is read (the search's view begins) before words fail.
        services.search(user, "anything", mode="hybrid")
    create_note_elsewhere(user, "Committed after the failed search")
    assert Note.objects.filter(title="Committed after the failed search").exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_a_searchs_reads_are_planned_for_pages_in_memory_and_nothing_else_is(user, transactional_db):
    """At the default random_page_cost the owner check of a search's ~100 candidates hashed
    every note of the user; the search's own connection prices a page read at random as one
    read in sequence (search/consistency.py). Writes and other pages keep the default."""
    from django.db import connections

    from search.consistency import READ_ALIAS, READ_RANDOM_PAGE_COST, read_connection, repeatable_read

    def planned_with(db) -> tuple[float, float]:
        """(random_page_cost of this connection, the server's own)."""
        with db.cursor() as cursor:
            cursor.execute("SELECT setting, reset_val FROM pg_settings WHERE name = 'random_page_cost'")
            return tuple(map(float, cursor.fetchone()))

    connections[READ_ALIAS].close()  # a connection made now, as by a web process that starts
    with repeatable_read():
        reader = read_connection()
        assert reader.alias == READ_ALIAS
        search_cost, server_cost = planned_with(reader)
        assert search_cost == READ_RANDOM_PAGE_COST
    assert planned_with(connection) == (server_cost, server_cost)  # whatever the server is configured with
