"""Reconcile at a lab's scale: with 50k notes on SQLite, the stale-source and orphan checks
find exactly what is stale or orphaned, bind no list of every id (the database refuses
statements past its variable limit, here lowered to 999 to prove it), and stay fast; a
finished model switch erases more of the old model's passages than that limit."""

import sqlite3
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from notes.models import Note, Paper, Snippet
from search import embedding, indexing, staleness
from search.models import IndexedSource, Passage, Tombstone, UserIndexState

NOTES = 50_000

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="the variable limit is SQLite's")


@pytest.fixture
def lab_collection(user):
    """50k notes, each indexed at its version with one passage; then a few of every kind of stale."""
    long_ago = timezone.now() - timedelta(days=30)
    model = embedding.model_name()
    Note.objects.bulk_create(
        [Note(user=user, title=f"n{i}", body="b", created=long_ago, updated=long_ago) for i in range(NOTES)],
        batch_size=2000,
    )
    ids = list(Note.objects.filter(user=user).order_by("pk").values_list("pk", flat=True))
    # The index rows of every note, written by the database itself (bulk_create of 100k more
    # objects would cost this test ten seconds).
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {IndexedSource._meta.db_table} (user_id, kind, object_id, fingerprint, state, error, attempts,"
            " model, embedded_at, updated) SELECT user_id, 'note', id, '1:1:' || id, 'indexed', '', 0, %s, %s, %s"
            f" FROM {Note._meta.db_table} WHERE user_id = %s",
            [model, long_ago + timedelta(minutes=1), long_ago, user.pk],
        )
        cursor.execute(
            f"INSERT INTO {Passage._meta.db_table} (user_id, kind, note_id, start, \"end\", context, text, content_hash,"
            " model, seq) SELECT user_id, 'note', id, -1, -1, '', 'b', id, '', 0"
            f" FROM {Note._meta.db_table} WHERE user_id = %s",
            [user.pk],
        )
    stale = {}
    stale["edited"] = ids[100]
    Note.objects.filter(pk=ids[100]).update(version=2)
    stale["never indexed"] = ids[20_000]
    IndexedSource.objects.filter(object_id=ids[20_000]).delete()
    stale["failed"] = ids[30_000]
    IndexedSource.objects.filter(object_id=ids[30_000]).update(state="failed", attempts=1)
    stale["other model"] = ids[40_000]
    IndexedSource.objects.filter(object_id=ids[40_000]).update(model="/models/old")
    stale["snippet added later"] = ids[45_000]
    Snippet.objects.create(note_id=ids[45_000], text="a quote")
    stale["made unsearchable"] = ids[49_999]
    Note.objects.filter(pk=ids[49_999]).update(searchable=False)
    given_up = ids[7]
    Note.objects.filter(pk=given_up).update(version=3)
    IndexedSource.objects.filter(object_id=given_up).update(state="failed", attempts=1000)
    paper = Paper.objects.create(user=user, title="A paper never indexed")
    orphans = [ids[-1] + 1000 + i for i in range(5)]  # notes deleted while no worker listened
    Passage.objects.bulk_create([Passage(user=user, kind=Passage.NOTE, note_id=pk, text="x", content_hash="x") for pk in orphans])
    return {"stale": stale, "paper": paper.pk, "orphans": orphans, "given_up": given_up}


@pytest.fixture
def few_variables():
    """SQLite as compiled with a 999-variable limit (older builds): an IN list of every id fails."""
    connection.ensure_connection()
    raw = connection.connection
    before = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    yield
    raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, before)


def test_reconcile_over_50k_notes_finds_exactly_the_stale_and_orphaned_within_the_variable_limit(
    lab_collection, few_variables
):
    started = time.perf_counter()
    found = staleness.stale_sources(grace_seconds=0)
    took = time.perf_counter() - started
    expected = {(Passage.NOTE, pk) for pk in lab_collection["stale"].values()} | {(Passage.PAPER, lab_collection["paper"])}
    assert set(found) == expected
    assert len(found) == len(expected)
    assert took < 5, f"a reconcile pass over 50k notes took {took:.1f} s"

    # Bounded, oldest first.
    Note.objects.filter(pk=lab_collection["stale"]["failed"]).update(updated=timezone.now() - timedelta(days=60))
    assert staleness.stale_sources(grace_seconds=0, limit=1) == [(Passage.NOTE, lab_collection["stale"]["failed"])]

    # Orphans: removed, and nothing else.
    before = Passage.objects.count()
    assert staleness.remove_orphans() == len(lab_collection["orphans"])
    assert not Passage.objects.filter(note_id__in=lab_collection["orphans"]).exists()
    assert Passage.objects.count() == before - len(lab_collection["orphans"])
    assert staleness.remove_orphans() == 0


def test_a_finished_model_switch_erases_more_old_passages_than_the_variable_limit(user, few_variables):
    old, new = "/models/old", embedding.model_name()
    note = Note.objects.create(user=user, title="A long log", body="b")
    IndexedSource.objects.create(user=user, kind=Passage.NOTE, object_id=note.pk, fingerprint="x", state="indexed", model=new)
    UserIndexState.objects.create(user=user, active_model=old)
    Passage.objects.bulk_create([
        Passage(user=user, kind=Passage.NOTE, note=note, text=f"passage {i}", content_hash=f"h{i}", model=old,
                vector=bytes(4 * 384))
        for i in range(1500)
    ])

    assert indexing.finish_switch(user.pk) is True
    assert UserIndexState.objects.get(user=user).active_model == new
    assert not Passage.objects.filter(user=user, model=old).exists()
    assert Tombstone.objects.filter(user=user).count() == 1500  # every process drops the old vectors
