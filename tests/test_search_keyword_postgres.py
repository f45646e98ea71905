"""PostgreSQL: the row budget reads per-user word counts kept by triggers instead of counting
matching rows at every search. The kept counts equal the live counts of the user's own rows
after saves, edits and deletes, and another user's notes never change them. And saving many
notes never leaves a long list of unmerged keyword index entries for every search to read."""

import pytest
from django.db import DatabaseError, connection, transaction

from notes.models import Note
from search import indexing, keyword, keyword_schema
from search.models import Passage
from tests.search_fixtures import corpus_entries, dev_questions

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's kept word counts")

CAP = 10**6  # above any count here: compare exact numbers


def query_words() -> list[str]:
    words = []
    for question in dev_questions():
        words += [w for w in keyword.terms(question["q"]) if w not in words]
    return words


def kept_and_live(user) -> tuple[dict, dict]:
    words = query_words()
    live = {word: keyword._count_matches(connection, user.pk, word, CAP) for word in words}
    kept = keyword._kept_counts(connection, user.pk, words)
    return {word: kept.get(word) for word in words}, live


def save(user, entry) -> Note:
    note = Note.objects.create_note(user, title=entry["title"], body=entry["body"])
    indexing.index_note_text(note.pk)
    return note


def test_kept_counts_equal_live_counts_after_saves_edits_and_deletes(user):
    entries = corpus_entries()
    notes = [save(user, entry) for entry in entries[:12]]
    kept, live = kept_and_live(user)
    assert sum(live.values()) > 0
    assert kept == live

    edited = notes[0]
    edited.apply_edit(base_version=edited.version, title=edited.title, body=entries[20]["body"])
    indexing.index_note_text(edited.pk)
    Note.objects.filter(pk=notes[1].pk).delete()
    indexing.remove_note(notes[1].pk)
    kept_after, live_after = kept_and_live(user)
    assert live_after != live  # the edit and the delete changed what matches
    assert kept_after == live_after


def test_embedding_a_note_later_leaves_its_counts_as_they_were(user):
    """The worker's vectors update the rows the save wrote (same text): counted once."""
    note = save(user, corpus_entries()[3])
    before = kept_and_live(user)
    indexing.index_note(note.pk)
    assert Passage.objects.filter(note=note).exclude(vector=None).exists()
    assert kept_and_live(user) == before
    assert before[0] == before[1]


def test_another_users_notes_change_none_of_my_counts(user, other_user):
    for entry in corpus_entries()[:8]:
        save(user, entry)
    mine = kept_and_live(user)
    for entry in corpus_entries()[:40]:
        save(other_user, entry)
    assert kept_and_live(user) == mine
    theirs_kept, theirs_live = kept_and_live(other_user)
    assert theirs_kept == theirs_live


def keyword_index_pending_pages() -> int:
    """Pages of the keyword GIN index's list of entries not merged yet (pgstattuple)."""
    with connection.cursor() as cursor:
        try:
            with transaction.atomic():
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
        except DatabaseError:
            pytest.skip("pgstattuple is not available to read the index's pending list")
        # The (user, words) index, or the words-only one where btree_gin is missing.
        cursor.execute("SELECT pending_pages FROM pgstatginindex(coalesce(to_regclass(%s), to_regclass(%s)))",
                       list(keyword_schema.KEYWORD_INDEXES))
        return cursor.fetchone()[0]


def test_saving_the_whole_corpus_leaves_searches_few_unmerged_index_pages(user):
    """Every keyword search reads the whole pending list; PostgreSQL's default lets it grow to
    4 MB (512 pages, ~3000 passages) before it is merged."""
    for entry in corpus_entries():
        save(user, entry)
    assert Passage.objects.filter(user=user).count() > 500
    assert keyword_index_pending_pages() <= 8  # 64 kB
