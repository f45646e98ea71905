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
