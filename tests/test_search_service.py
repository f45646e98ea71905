"""The search service contract as pages use it: odd queries, paging, status, re-index."""

import pytest

from notes.models import Note
from search import indexing, services


@pytest.fixture
def notes(user):
    made = []
    for title, body in [
        ("Tokamak", "Plasma confinement in a tokamak: NEAR-term results, \"quoted\" and col:on text."),
        ("Rust", "Ownership and borrowing in Rust prevent data races at compile time."),
        ("عربي", "ملاحظات عن التعلم العميق"),
    ]:
        note = Note.objects.create_note(user, title=title, body=body)
        indexing.index_note(note.pk)
        made.append(note)
    return made


HOSTILE = [
    "", "   \n\t ", "x" * 5000, "🔥🚀 plasma 🤖", "ملاحظات التعلم", '"unbalanced quote', "tok*", "NEAR(a b)",
    "title:tokamak", "-plasma", "' OR 1=1 --", "a AND OR NOT", "\x00null byte", "((((", "^$%&*()[]{}", "\ud800 lone surrogate",
    "col:on", "NEAR", "*", ":", "-", "'",
]


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
def test_odd_queries_answer_without_errors(user, notes, mode):
    for query in HOSTILE:
        page = services.search(user, query, mode=mode)
        assert page.mode == mode
        assert isinstance(page.hits, list)


def test_empty_query_is_an_empty_page(user, notes):
    page = services.search(user, "  ")
    assert (page.hits, page.total, page.took_ms) == ([], 0, 0.0)


def test_query_syntax_is_searched_as_words(user, notes):
    tokamak = notes[0]
    for query in ['"tokamak', "tokamak*", "NEAR(tokamak)", "title:tokamak", "-tokamak", "col:on"]:
        assert [h.note_id for h in services.search(user, query, mode="keyword").hits][:1] == [tokamak.pk], query


def test_right_to_left_text_is_found_by_words(user, notes):
    assert [h.note_id for h in services.search(user, "التعلم", mode="keyword").hits] == [notes[2].pk]


def test_unknown_mode_falls_back_to_hybrid(user, notes):
    assert services.search(user, "rust ownership", mode="nonsense").mode == "hybrid"


def test_paging_gives_disjoint_pages_and_a_total(user):
    for i in range(7):
        note = Note.objects.create_note(user, title=f"Kernel {i}", body=f"Notes on kernel methods, part {i}.")
        indexing.index_note(note.pk)
    first = services.search(user, "kernel methods", limit=3, offset=0)
    second = services.search(user, "kernel methods", limit=3, offset=3)
    assert first.total == second.total >= 7
    assert not {h.note_id for h in first.hits} & {h.note_id for h in second.hits}
    assert len(second.hits) == 3


def test_hit_carries_what_the_results_page_shows(user):
    note = Note.objects.create_note(user, title="Guidance", body="Intro.\n\nClassifier-free guidance trades diversity for fidelity.", tags=["diffusion"])
    indexing.index_note(note.pk)
    hit = services.search(user, "classifier-free guidance fidelity").hits[0]
    assert hit.kind == "note" and hit.note_id == note.pk and hit.title == "Guidance"
    assert hit.tags == ["diffusion"] and hit.date == note.created
    assert note.body[hit.passage_start : hit.passage_end] == hit.passage
    assert hit.url == f"{note.get_absolute_url()}#p-{hit.passage_start}"


def test_reindex_re_embeds_everything_and_reports_progress(user, notes):
    from search.models import Passage
    from search.reindex import reindex_user

    before = set(Passage.objects.filter(user=user).values_list("pk", flat=True))
    assert services.reindex_progress(user)["state"] == "idle"
    reindex_user(user.pk)
    after = set(Passage.objects.filter(user=user).values_list("pk", flat=True))
    assert len(after) == len(before) and not before & after
    assert services.reindex_progress(user) == {"state": "done", "done": 3, "total": 3, "waiting_since": None}
    assert services.search(user, "borrowing prevents data races", mode="semantic").hits[0].note_id == notes[1].pk
    assert services.index_status(user)["totals"]["index_bytes"] > 0
