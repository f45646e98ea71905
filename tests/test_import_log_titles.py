"""Research-log entries whose first line is a bare link take their title from the table of
contents only where the match is clear, and the same titles whichever number of opening
lines is read: a title never moves to a neighbouring entry, and none is better than a wrong one."""

import pytest

from exchange.importers import log_titles, research_log
from notes import arxiv
from tests.test_import_files import data_file


@pytest.fixture(scope="module")
def log():
    text = data_file("research-log.txt").read_text()
    return research_log.table_of_contents(text), research_log.split_entries(text), log_titles.named_papers(text)


def toc_titles(log, openings) -> dict[str, str]:
    """arXiv id of the entry's reference -> the table-of-contents title it got."""
    toc, entries, named = log
    titles = log_titles.entry_titles(toc, entries, named, openings)
    return {arxiv.find(heading): t.title for (heading, _), t in zip(entries, titles) if t.title in toc}


@pytest.fixture(scope="module")
def usual(log) -> dict[str, str]:
    """The titles the importer gives, reading its usual numbers of opening lines."""
    return toc_titles(log, log_titles.OPENINGS)


def test_bare_entries_take_the_title_of_their_section(usual):
    assert usual["2409.02634"] == "Loopy - Make images speak and sing"
    assert usual["2312.12436"] == "GEMINI PRO VS GPT-4V comparison"
    assert usual["2301.12050"] == "DECKARD - RL Agent that dreams"
    assert usual["2306.00978"] == "Activation-aware Weight Quantisation (AWQ)"
    assert usual["2306.03078"] == "SpQR (Sparse Quantised Representation)"
    # Loopy's neighbours (ColPali's entry is the bare link alone) get no title rather than Loopy's or a guess.
    assert "2407.01449" not in usual and usual.get("2410.13848") in (None, "Janus - Deepseek goes multimodal")
    # A link under a title in the table of contents is not a title.
    assert not any(title.startswith("http") for title in usual.values())


def test_an_entry_left_untitled_is_offered_the_few_titles_its_section_may_have(log):
    toc, entries, named = log
    titles = log_titles.entry_titles(toc, entries, named)
    by_paper = {arxiv.find(heading): t for (heading, _), t in zip(entries, titles)}
    # ColPali's and Janus's entries sit between Loopy's and the next matched entry.
    for paper in ("2407.01449", "2410.13848"):
        assert by_paper[paper].candidates[:2] == ("ColPali - Multimodal RAG made simpler and faster", "Janus - Deepseek goes multimodal")
    # HuggingGPT's entry comes before the first matched one.
    assert by_paper["2303.17580"].candidates[0] == "HuggingGPT (could’ve chosen a better name, linkedin tier)"
    # An entry the table of contents titled is offered nothing else; none is offered many.
    assert by_paper["2409.02634"] == log_titles.EntryTitle("Loopy - Make images speak and sing")
    assert all(len(t.candidates) <= log_titles.MAX_CANDIDATES for t in titles)
    # Offered titles are unmatched ones, in the table of contents' order.
    matched = {t.title for t in titles if t.title in toc}
    for t in titles:
        assert not matched & set(t.candidates)
        assert [toc.index(c) for c in t.candidates] == sorted(toc.index(c) for c in t.candidates)


def test_titles_follow_the_table_of_contents_order(log, usual):
    toc = log[0]
    order = [toc.index(title) for title in usual.values()]
    assert order == sorted(order) and len(set(order)) == len(order)


@pytest.mark.parametrize("openings", [(4, 6, 10), (5, 8, 12), (2, 4, 6)])
def test_reading_more_or_fewer_opening_lines_moves_no_title(log, usual, openings):
    varied = toc_titles(log, openings)
    # No entry gets a different title; at most a few lose or gain theirs.
    assert all(varied[paper] == title for paper, title in usual.items() if paper in varied)
    assert len(set(usual) ^ set(varied)) <= 3


def test_without_the_embedding_model_no_entry_is_titled_by_shared_words_alone(log, monkeypatch):
    monkeypatch.setattr(log_titles, "_vectors", lambda texts: None)
    assert toc_titles(log, log_titles.OPENINGS) == {}


def test_aligning_the_same_log_again_embeds_nothing_again(log, usual, monkeypatch):
    # A re-import (after adding entries, or with an improved importer) reuses the vectors.
    from search import embedding

    embedded, embed = [], embedding.embed
    monkeypatch.setattr(embedding, "embed", lambda texts, **kw: embedded.extend(texts) or embed(texts, **kw))
    assert toc_titles(log, log_titles.OPENINGS) == usual
    assert embedded == []
