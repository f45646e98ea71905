"""Words the keyword row budget leaves out of the ranking still count: the passages found,
and those meaning search adds, are scored again on every word of the question, with the
scores the full ranking would give them."""

import sqlite3

import pytest
from django.db import connection

from notes.models import Note
from search import indexing, keyword, keyword_rescore, keyword_terms
from search.models import Passage
from tests.search_fixtures import corpus_entries, dev_questions

COMMON_NOTES = 30  # notes with the common word: past the budget below
OTHER_NOTES = 120  # and without it, so it is common but not in most rows (BM25 gives those no weight)
ROW_BUDGET = 10


@pytest.fixture(autouse=True)
def _fresh_counts():
    keyword._matches_cache.clear()
    yield
    keyword._matches_cache.clear()


def saved(user, title: str, body: str) -> int:
    """The note's one passage, searchable by words (no embedding needed)."""
    note = Note.objects.create_note(user, title=title, body=body)
    indexing.index_note_text(note.pk)
    return Passage.objects.get(note=note, kind=Passage.NOTE).pk


@pytest.fixture
def collection(user):
    """Many notes say "diffusion"; two say "guidance", one of them "diffusion" as well."""
    common = [saved(user, f"Sampler {i}", f"Diffusion sampler number {i} for images.") for i in range(COMMON_NOTES)]
    for i in range(OTHER_NOTES):
        saved(user, f"Optimiser {i}", f"Learning rate schedule number {i}.")
    alone = saved(user, "Sweep", "Guidance scale sweeps for images.")
    both = saved(user, "Sweep", "Guidance scale sweeps for diffusion images.")
    return {"common": common, "alone": alone, "both": both}


def ranking(user, query: str, **kwargs) -> list[int]:
    return [pk for pk, _ in keyword.search_passages(user.pk, query, **kwargs)]


def test_a_word_past_the_budget_still_lifts_the_passages_that_have_it(user, collection, settings):
    settings.SEARCH_KEYWORD_ROW_BUDGET = ROW_BUDGET
    assert keyword.ranked_words(user.pk, ["guidance", "diffusion"]) == ["guidance"]  # "diffusion" is left out

    found = ranking(user, "guidance diffusion", limit=10)

    # Ranked on "guidance" alone, the shorter note came first; "diffusion" counts.
    assert found[:2] == [collection["both"], collection["alone"]]


def test_scores_past_the_budget_are_those_of_the_full_ranking(user, collection, settings):
    settings.SEARCH_KEYWORD_ROW_BUDGET = 10_000
    full = dict(keyword.search_passages(user.pk, "guidance diffusion", limit=100))
    settings.SEARCH_KEYWORD_ROW_BUDGET = ROW_BUDGET
    keyword._matches_cache.clear()

    budgeted = keyword.search_passages(user.pk, "guidance diffusion", limit=100)

    assert {pk for pk, _ in budgeted} == {collection["both"], collection["alone"]}
    for pk, score in budgeted:
        assert score == pytest.approx(full[pk], rel=1e-6)


def test_passages_meaning_found_are_scored_on_the_words_left_out(user, collection, settings):
    settings.SEARCH_KEYWORD_ROW_BUDGET = ROW_BUDGET
    only_common = collection["common"][0]
    asked = []

    def meanings():
        asked.append(True)
        return [only_common]

    assert only_common not in ranking(user, "guidance diffusion", limit=10)

    found = ranking(user, "guidance diffusion", limit=10, also=meanings)

    assert asked and only_common in found  # matched only by the left-out word


def test_meanings_passages_rank_among_the_found_by_the_full_rankings_scores(user, collection, settings):
    settings.SEARCH_KEYWORD_ROW_BUDGET = 10_000
    full = dict(keyword.search_passages(user.pk, "guidance diffusion", limit=1000))
    settings.SEARCH_KEYWORD_ROW_BUDGET = ROW_BUDGET
    keyword._matches_cache.clear()
    meanings = [collection["both"], *collection["common"][:3]]  # one of them found by the kept word too

    found = keyword.search_passages(user.pk, "guidance diffusion", limit=10, also=lambda: meanings)

    expected = {collection["alone"], *meanings}
    assert [pk for pk, _ in found] == sorted(expected, key=lambda pk: (-full[pk], pk))
    for pk, score in found:
        assert score == pytest.approx(full[pk], rel=1e-6)


def test_nothing_is_scored_again_when_every_word_fits_the_budget(user, collection, settings):
    settings.SEARCH_KEYWORD_ROW_BUDGET = 10_000

    def meanings():
        raise AssertionError("asked for meaning's passages although no word was left out")

    assert ranking(user, "guidance diffusion", limit=10, also=meanings)[:1] == [collection["both"]]


def same_as_full_ranking(user, questions, limit: int) -> int:
    """Asserts that the top passages FTS5 ranks on every word of each question get the same
    scores, in the same order, when scored again; returns how many were compared."""
    weight = keyword.default_context_weight()
    compared = 0
    for question in questions:
        words = keyword.terms(question)
        full = keyword._rank(connection, user.pk, words, limit, weight)
        again = keyword_rescore.sqlite(connection, user.pk, words, [pk for pk, _ in full], weight, limit,
                                       lambda word: keyword._matches(connection, user.pk, word, keyword.EXACT))
        assert [pk for pk, _ in again] == [pk for pk, _ in full], question
        assert [s for _, s in again] == pytest.approx([s for _, s in full], rel=1e-9), question
        compared += len(full)
    return compared


@pytest.mark.skipif(connection.vendor != "sqlite", reason="FTS5's bm25 is SQLite's scorer")
@pytest.mark.parametrize("counts", ["kept with the passages", "made from the text when read"])
def test_scoring_again_reproduces_fts5s_bm25_on_the_real_corpus(user, counts):
    """For every dev question, the top passages FTS5 ranks on every word get the same
    scores, in the same order, when scored again (real notes: code, lists, unicode), from
    the token counts saving keeps with each passage, and from the text where none were kept."""
    for entry in corpus_entries():
        note = Note.objects.create_note(user, title=entry["title"], body=entry["body"])
        indexing.index_note_text(note.pk)
    assert not Passage.objects.filter(user=user, terms=None).exists()
    if counts == "made from the text when read":
        Passage.objects.filter(user=user).update(terms=None)
    assert same_as_full_ranking(user, [q["q"] for q in dev_questions()], 40) > 1000


def test_counting_one_batch_of_passages_leaves_nothing_behind_for_the_next():
    """The tokenizer's database is kept between batches (per thread): each batch's counts are
    its own, after a batch that failed too."""
    alone = keyword_terms.counted([("Starter", "Rye flour starter, fed twice.")])
    keyword_terms.counted([("Bread", "rye rye bread"), ("Flour", "flour for the starter")] * 3)
    with pytest.raises(sqlite3.ProgrammingError):  # its second row cannot be stored, after its first was
        keyword_terms.counted([("Bread", "rye rye rye"), ("Bread", object())])
    assert keyword_terms.counted([("Starter", "Rye flour starter, fed twice.")]) == alone
    assert keyword_terms.length(alone[0]) == 6
    assert keyword_terms.stems(("starters", "running", "the")) == {"starters": "starter", "running": "run", "the": "the"}


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the kept counts are SQLite's")
def test_a_passage_whose_text_is_changed_under_it_is_scored_on_its_new_text(user, collection):
    """Whoever rewrites a passage's text (not the app: it replaces passages), its kept counts
    go with the old text, and it is scored on the new one."""
    Passage.objects.filter(pk=collection["alone"]).update(text="Guidance guidance diffusion diffusion diffusion.")

    assert Passage.objects.get(pk=collection["alone"]).terms is None
    assert Passage.objects.get(pk=collection["both"]).terms is not None
    assert same_as_full_ranking(user, ["guidance diffusion", "diffusion images"], 60) > 30


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the kept counts are SQLite's")
def test_passages_saved_before_counts_were_kept_get_them_on_upgrade(user, collection):
    """Migration 0010 makes the counts of every passage that has none, the same as saving
    makes them."""
    kept = dict(Passage.objects.values_list("pk", "terms"))
    Passage.objects.update(terms=None)

    assert keyword_terms.backfill(connection) == len(kept)
    assert dict(Passage.objects.values_list("pk", "terms")) == kept
    assert keyword_terms.finder(["diffus", "sweep"])(kept[collection["both"]]) == {"diffus": (0, 1), "sweep": (1, 1)}


@pytest.mark.skipif(connection.vendor != "sqlite", reason="FTS5's tokenizer is SQLite's")
def test_accented_words_score_again_as_fts5_indexed_them(user, collection, settings):
    """FTS5 indexes "Fréchet" as "frechet" and reads "naïve—Bayes" as two words: a passage
    found by them keeps its place when the left-out word is scored again."""
    accented = saved(user, "Métriques", "The Fréchet distance of naïve—Bayes samplers, façade of FID.")
    plain = saved(user, "Metrics", "The Frechet distance of naive Bayes samplers.")
    queries = ("frechet diffusion", "fréchet naive diffusion", "metriques facade diffusion", "bayes naïve diffusion")
    for query in queries:
        assert {accented, plain} & {pk for pk, _ in keyword._rank(connection, user.pk, keyword.terms(query), 60, 1.0)}, query
    same_as_full_ranking(user, queries, 60)
    settings.SEARCH_KEYWORD_ROW_BUDGET = ROW_BUDGET
    assert accented in ranking(user, "frechet diffusion", limit=5)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="FTS5's tokenizer is SQLite's")
def test_a_word_fts5_would_split_keeps_the_kept_words_ranking(user, collection, settings, monkeypatch):
    """Where bm25 cannot be recomputed as FTS5 computes it, the ranking on the kept words
    stands rather than one that drops a word."""
    settings.SEARCH_KEYWORD_ROW_BUDGET = ROW_BUDGET
    kept_only = keyword._rank(connection, user.pk, ["guidance"], 10, keyword.default_context_weight())
    stems = keyword_terms.stems
    monkeypatch.setattr(keyword_terms, "stems", lambda words: {**stems(words), **({"diffusion": None} if "diffusion" in words else {})})

    assert keyword.search_passages(user.pk, "guidance diffusion", limit=10) == kept_only
