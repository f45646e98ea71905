"""Keyword ranking at scale: past the row budget, a query's most common words are left out
of the ranking, so a rare word still finds its passage without scoring every row."""

import pytest

from notes.models import Note
from search import indexing, keyword, keyword_schema
from search.models import Passage


@pytest.fixture(autouse=True)
def _fresh_counts():
    keyword._matches_cache.clear()
    yield
    keyword._matches_cache.clear()


def make_notes(user, n_common: int) -> Note:
    """n_common notes with "model" and "loop", and one with "model" and "verilog"."""
    for i in range(n_common):
        note = Note.objects.create_note(user, title=f"Common {i}", body="A model of the training loop, nothing else.")
        indexing.index_note_text(note.pk)
    rare = Note.objects.create_note(user, title="Rare", body="The model was trained on Verilog netlists.")
    indexing.index_note_text(rare.pk)
    return rare


def test_small_collections_rank_on_every_word(user, settings):
    make_notes(user, 5)
    settings.SEARCH_KEYWORD_ROW_BUDGET = 1000
    assert sorted(keyword.ranked_words(user.pk, ["model", "verilog"])) == ["model", "verilog"]


def test_a_query_with_no_words_ranks_on_none(user):
    make_notes(user, 2)
    assert keyword.ranked_words(user.pk, []) == []


def test_past_the_budget_common_words_are_left_out_and_the_rare_one_still_finds_its_note(user, settings):
    rare = make_notes(user, 30)
    settings.SEARCH_KEYWORD_ROW_BUDGET = 10
    assert keyword.ranked_words(user.pk, ["model", "verilog", "loop"]) == ["verilog"]
    [(passage_id, _)] = keyword.search_passages(user.pk, "model verilog loop", limit=5)
    assert Passage.objects.get(pk=passage_id).note_id == rare.pk


def test_a_query_of_only_common_words_still_ranks_by_the_rarest(user, settings):
    make_notes(user, 30)  # "model" in 31 passages, "loop" in 30
    settings.SEARCH_KEYWORD_ROW_BUDGET = 10
    # Both words are past the budget: the rarer is ranked alone, whichever the query names first.
    assert keyword.ranked_words(user.pk, ["model", "loop"]) == ["loop"]
    assert keyword.ranked_words(user.pk, ["loop", "model"]) == ["loop"]
    assert len(keyword.search_passages(user.pk, "model loop", limit=50)) == 30


def test_hybrid_ranks_a_smaller_budget_than_keyword_search_unless_configured(settings):
    settings.SEARCH_KEYWORD_ROW_BUDGET = 0
    assert keyword.row_budget() == 8000
    assert keyword.row_budget(hybrid=True) == 2000
    settings.SEARCH_KEYWORD_ROW_BUDGET = 123
    assert keyword.row_budget() == keyword.row_budget(hybrid=True) == 123


@pytest.mark.django_db
def test_postgres_keeps_the_tsvector_in_the_row_and_the_vector_out_of_it():
    """Ranking reads every matching row's tsvector: kept in the row, not behind a TOAST
    fetch (4x the time a row)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL storage setting")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, attstorage FROM pg_attribute WHERE attrelid = 'search_passage'::regclass "
            "AND attname IN ('vector', 'search_tsv') ORDER BY attname"
        )
        assert cursor.fetchall() == [("search_tsv", "m"), ("vector", "e")]


@pytest.mark.django_db
def test_postgres_ranks_a_users_matching_rows_from_one_index_not_every_row_of_theirs(user, other_user):
    """The ranking query is answered by the (user, words) GIN index: the user's rows that
    match, without testing the words against each of their rows (19 ms against 3.8 at 20k)."""
    from contextlib import ExitStack

    from django.db import connection, connections
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL index")
    rare = make_notes(user, 20)
    make_notes(other_user, 20)
    with ExitStack() as stack:
        captured = [stack.enter_context(CaptureQueriesContext(c)) for c in connections.all()]
        hits = keyword.search_passages(user.pk, "verilog model", limit=100)
    assert Passage.objects.get(pk=hits[0][0]).note_id == rare.pk
    assert len(hits) == 21 and set(Passage.objects.filter(pk__in=[h[0] for h in hits]).values_list("user_id", flat=True)) == {user.pk}
    ranking = next(q["sql"] for c in captured for q in c.captured_queries if "ts_rank" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # a test's table is small enough to be read whole
        try:
            cursor.execute("EXPLAIN " + ranking)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("RESET enable_seqscan")
    assert "search_passage_user_tsv_gin" in plan and "search_passage_user_id" not in plan, plan


@pytest.mark.django_db
def test_postgres_without_btree_gin_keeps_the_words_index_and_still_ranks(user, other_user):
    """A role that may not create extensions: the migration leaves the words-only index, and
    rankings are still the user's own rows, best first."""
    from django.db import ProgrammingError, connection

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL index")

    class NoExtensions:
        def __init__(self, editor):
            self.editor, self.connection = editor, editor.connection

        def execute(self, sql, params=()):
            if sql.startswith("CREATE EXTENSION"):
                raise ProgrammingError('permission denied to create extension "btree_gin"')
            self.editor.execute(sql, params)

    with connection.schema_editor() as editor:  # first: not with the notes' checks pending
        keyword_schema.drop_postgres_user_index(None, editor)
        keyword_schema.create_postgres_user_index(None, NoExtensions(editor))
    rare = make_notes(user, 5)
    make_notes(other_user, 5)
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'search_passage' AND indexdef LIKE '%%gin%%'")
        assert [row[0] for row in cursor.fetchall()] == ["search_passage_tsv_gin"]
    hits = keyword.search_passages(user.pk, "verilog model", limit=100)
    assert Passage.objects.get(pk=hits[0][0]).note_id == rare.pk
    assert len(hits) == 6 and set(Passage.objects.filter(pk__in=[h[0] for h in hits]).values_list("user_id", flat=True)) == {user.pk}
