"""A search's hot queries, compiled to SQL once (search/prepared.py), read exactly what the
ORM reads for every user and every list of ids, through the search's consistent view."""

import threading

import pytest
from django.db import connection
from django.db.models import F

from notes.models import Note
from search.consistency import repeatable_read
from search.id_list import InIds
from search.prepared import Prepared


def notes_of(user_id, ids):
    return Note.objects.filter(user_id=user_id).filter(InIds(F("pk"), ids)).order_by("pk", "tags__name").values_list(
        "pk", "title", "created", "tags__name", "paper_id"
    )


@pytest.mark.django_db
def test_a_prepared_query_reads_what_the_orm_reads_for_each_user_and_id_list(user, other_user):
    mine = [Note.objects.create_note(user, title=f"Mine {n}", body="text", tags=["ml", f"t{n}"]) for n in range(3)]
    theirs = [Note.objects.create_note(other_user, title=f"Theirs {n}", body="text") for n in range(2)]
    every_id = [note.pk for note in mine + theirs]
    prepared = Prepared(notes_of)
    for owner in (user, other_user, user):  # the SQL compiled by the first call serves the others
        for ids in (every_id, every_id[:1], {every_id[-1]}, []):
            assert prepared.rows(owner.pk, ids) == list(notes_of(owner.pk, ids))
    rows = prepared.rows(user.pk, every_id)
    assert {pk for pk, *_ in rows} == {note.pk for note in mine}  # never another user's note
    assert all(created.tzinfo is not None for _, _, created, _, _ in rows)  # converted as the ORM does (SQLite: text)


@pytest.mark.django_db
def test_a_prepared_query_is_compiled_once_per_connection(user):
    note = Note.objects.create_note(user, title="Once", body="text")
    built = []

    def build(user_id, ids):
        built.append(user_id)
        return notes_of(user_id, ids)

    prepared = Prepared(build)
    for _ in range(5):
        assert [row[0] for row in prepared.rows(user.pk, [note.pk])] == [note.pk]
    assert len(built) == 2  # once to learn the model, once to compile; never with the user's values
    assert user.pk not in built


@pytest.mark.django_db
def test_a_value_that_does_not_reach_the_sql_as_a_parameter_is_refused(user):
    with pytest.raises(TypeError, match="InIds"):
        Prepared(lambda ids: Note.objects.filter(pk__in=ids)).rows([1, 2])  # one placeholder an id: not one parameter
    with pytest.raises(TypeError):
        Prepared(lambda n: Note.objects.filter(title__contains=n)).rows(3)  # reaches it as '%3%'


def test_a_prepared_query_reads_the_searchs_consistent_view(user, transactional_db):
    """Inside repeatable_read() it runs where the ORM would (the search's read connection):
    a note committed meanwhile by someone else is not seen until the view ends."""
    prepared = Prepared(lambda user_id: Note.objects.filter(user_id=user_id).values_list("title"))
    Note.objects.create_note(user, title="Before", body="text")

    def commit_elsewhere():
        try:
            Note.objects.create_note(user, title="Meanwhile", body="text")
        finally:
            connection.close()

    with repeatable_read():
        assert prepared.rows(user.pk) == [("Before",)]
        writer = threading.Thread(target=commit_elsewhere)
        writer.start()
        writer.join()
        assert prepared.rows(user.pk) == [("Before",)]
    assert sorted(prepared.rows(user.pk)) == [("Before",), ("Meanwhile",)]
