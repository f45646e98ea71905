"""A user's keyword and hybrid ranking depends on their own notes only: another user
importing a large corpus (the real notes corpus, and notes repeating the first user's
query words) moves none of the first user's results, ids, order or scores."""

import pytest
from django.db import connection

from notes.models import Note
from search import hnsw, indexing, keyword, keyword_index, services
from search.check import check_user
from search.models import Passage
from tests.search_fixtures import corpus_entries, dev_questions

MINE = 20  # the first user's notes: the corpus's first twenty
# Small enough that the other user's import pushes every query word past it (so the words
# kept must be counted in the first user's rows alone), large enough for the first user's.
ROW_BUDGET = 300


@pytest.fixture(autouse=True)
def _budget_and_fresh_counts(settings):
    settings.SEARCH_KEYWORD_ROW_BUDGET = ROW_BUDGET
    keyword._matches_cache.clear()
    yield
    keyword._matches_cache.clear()


@pytest.fixture
def mine(user):
    notes = []
    for entry in corpus_entries()[:MINE]:
        note = Note.objects.create_note(user, title=entry["title"], body=entry["body"])
        indexing.index_note(note.pk)
        notes.append(note)
    hnsw.write_snapshot(user.pk)
    return notes


def my_queries(notes) -> list[str]:
    """The dev questions about the first user's notes, and as many others."""
    titles = {n.title for n in notes}
    about_mine = [q["q"] for q in dev_questions() if q["expected_title"] in titles]
    others = [q["q"] for q in dev_questions() if q["expected_title"] not in titles]
    assert about_mine, "no dev question is about the first user's notes"
    return about_mine + others[: len(about_mine)]


def results(user, queries: list[str]) -> dict:
    keyword._matches_cache.clear()  # counted afresh: nothing stale hides a change
    return {
        (mode, query): [(h.kind, h.object_id, h.passage_start, h.score) for h in services.search(user, query, mode=mode, limit=20).hits]
        for mode in ("keyword", "hybrid")
        for query in queries
    }


def import_large_corpus(other_user, queries: list[str]) -> set[int]:
    """The whole corpus (the first user's notes among them), and 200 notes repeating the
    first user's query words, saved as the app saves them (searchable by words at once)."""
    words = " ".join(word for query in queries for word in keyword.terms(query))
    bodies = [(e["title"], e["body"]) for e in corpus_entries()]
    bodies += [(f"Echo {i}", " ".join([words] * (1 + i % 7))) for i in range(200)]
    made = set()
    for title, body in bodies:
        note = Note.objects.create_note(other_user, title=title, body=body)
        indexing.index_note_text(note.pk)
        made.add(note.pk)
    return made


def test_another_users_large_import_moves_none_of_my_results(user, other_user, mine):
    queries = my_queries(mine)
    before = results(user, queries)
    assert any(before[("keyword", q)] for q in queries)

    theirs = import_large_corpus(other_user, queries)
    assert Passage.objects.filter(user=other_user).count() > 10 * Passage.objects.filter(user=user).count()
    assert keyword.search_passages(other_user.pk, queries[0])  # their import is searchable

    after = results(user, queries)
    assert after == before
    own = {n.pk for n in mine}
    for hits in after.values():
        assert all(object_id not in theirs for _, object_id, _, _ in hits)
    for query in queries:
        page = services.search(user, query, mode="hybrid", limit=50)
        assert {h.note_id for h in page.hits} <= own


def test_deleting_the_other_user_leaves_nothing_of_their_keyword_index(user, other_user, mine):
    queries = my_queries(mine)
    before = results(user, queries)
    import_large_corpus(other_user, queries[:2])
    gone = other_user.pk
    other_user.delete()

    assert results(user, queries) == before
    assert not Passage.objects.filter(user_id=gone).exists()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT type, name FROM sqlite_master WHERE name GLOB ?", [f"*_u{gone}*"])
            assert cursor.fetchall() == []
            cursor.execute("SELECT type, name FROM sqlite_master WHERE name GLOB ?", [f"*_u{user.pk}_a[iud]"])
            assert len(cursor.fetchall()) == 3  # the first user's index stays, kept up to date
    assert check_user(user.pk)["problems"] == []


def test_passages_written_around_indexing_are_still_found_and_counted(user):
    """Rows a bulk load writes before the user has a keyword index: search builds it from
    them, and from then on its triggers keep it exact."""
    note = Note.objects.create_note(user, title="Bulk", body="Sourdough needs a long cold proof.")
    Passage.objects.bulk_create([
        Passage(user=user, kind="note", note=note, context="Bulk", text=note.body, content_hash="h1"),
    ])
    if connection.vendor == "sqlite":
        keyword_index.drop(user.pk)
    [(pk, _)] = keyword.search_passages(user.pk, "sourdough proof")
    assert Passage.objects.get(pk=pk).note_id == note.pk
    Passage.objects.filter(pk=pk).update(text="Rye needs a warm proof.")
    assert keyword.search_passages(user.pk, "sourdough") == []
    assert [p for p, _ in keyword.search_passages(user.pk, "rye")] == [pk]
    assert check_user(user.pk)["problems"] == []


def test_a_word_rare_in_my_notes_counts_more_than_one_in_most_of_them(user, other_user):
    """BM25's IDF on SQLite, and on PostgreSQL too (ts_rank alone would rank the two level or
    the wrong way round), counted in my notes only."""

    def write(owner, title, body):
        note = Note.objects.create_note(owner, title=title, body=body)
        indexing.index_note_text(note.pk)
        return note

    for n in range(12):
        write(user, f"Reading {n}", f"Transformer paper {n}: attention heads and layer norms.")
    chatty = write(user, "Transformer transformer", "Transformer, transformer, transformer: the transformer again.")
    rare = write(user, "Hardware", "Verilog synthesis for a small FPGA design.")

    def my_ranking():
        found = keyword.search_passages(user.pk, "transformer verilog", limit=20)
        notes = dict(Passage.objects.filter(pk__in=[pk for pk, _ in found]).values_list("pk", "note_id"))
        return list(dict.fromkeys(notes[pk] for pk, _ in found))

    assert my_ranking()[0] == rare.pk
    assert chatty.pk in my_ranking()[1:3]
    for n in range(30):  # verilog is common in another user's notes: not in mine
        write(other_user, f"FPGA {n}", "Verilog and more Verilog for the FPGA.")
    assert my_ranking()[0] == rare.pk


def test_notes_saved_after_a_search_are_ranked_as_a_fresh_count_ranks_them(user):
    """The passage total behind PostgreSQL's IDFs is kept a few minutes: passages saved
    meanwhile (a word now in more of them than it counted) have it counted again."""

    def write(title, body):
        indexing.index_note_text(Note.objects.create_note(user, title=title, body=body).pk)

    write("First", "Diffusion guidance notes.")
    assert keyword.search_passages(user.pk, "guidance")
    for n in range(25):
        write(f"Import {n}", f"Guidance scale sweep {n}, and guidance again.")
    write("Rare", "Calibration of the guidance scale with a held-out set.")
    ranked = keyword.search_passages(user.pk, "calibration guidance", limit=30)
    keyword._passages_cache.clear()
    assert keyword.search_passages(user.pk, "calibration guidance", limit=30) == ranked
