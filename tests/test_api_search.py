"""Search over the API: every mode and filter, only the token owner's notes, bad params 422."""

import pytest

from api.models import ApiToken
from notes.models import Note, Paper
from search import indexing


@pytest.fixture
def search(client, user):
    raw = ApiToken.issue(user, "tests", days=1)[1]

    def call(**params):
        return client.get("/api/search", params, HTTP_AUTHORIZATION=f"Bearer {raw}")

    return call


def note(user, title, body, **kwargs):
    n = Note.objects.create_note(user, title=title, body=body, **kwargs)
    indexing.index_note(n.pk)
    return n


def test_every_mode_finds_the_owners_note_and_never_another_users(search, user, other_user):
    mine = note(user, "Rotary embeddings", "RoPE rotates query and key vectors by position.", tags=["positional"])
    note(other_user, "Rotary secrets", "RoPE rotates query and key vectors by position, privately.")
    for mode in ("keyword", "semantic", "hybrid"):
        response = search(q="RoPE rotates query vectors", mode=mode)
        assert response.status_code == 200, mode
        body = response.json()
        assert body["mode"] == mode
        assert [h["note_id"] for h in body["hits"] if h["kind"] == "note"] == [mine.pk], mode


def test_filters_narrow_the_hits(search, user):
    paper = Paper.objects.create(user=user, title="RoFormer")
    tagged = note(user, "Rotary A", "rotary position embedding trick", tags=["positional"], paper=paper)
    note(user, "Rotary B", "rotary position embedding trick again")
    by_tag = search(q="rotary position", mode="keyword", tag="positional").json()
    assert {h["note_id"] for h in by_tag["hits"]} == {tagged.pk}
    by_paper = search(q="rotary position", mode="keyword", paper_id=paper.pk, kinds="note").json()
    assert {h["note_id"] for h in by_paper["hits"]} == {tagged.pk}
    future = search(q="rotary position", mode="keyword", date_from="2999-01-01").json()
    assert future["hits"] == [] and future["total"] == 0
    page = search(q="rotary position", mode="keyword", kinds="note", limit=1).json()
    assert len(page["hits"]) == 1 and page["total"] == 2


@pytest.mark.parametrize("params", [
    {}, {"q": "x", "mode": "fuzzy"}, {"q": "x", "kinds": "poem"}, {"q": "x", "limit": 0},
    {"q": "x", "date_from": "yesterday"}, {"q": "x", "paper_id": "abc"},
])
def test_bad_search_parameters_are_422(search, params):
    assert search(**params).status_code == 422


def test_a_paper_hit_carries_the_found_notes_about_it(search, user):
    paper = Paper.objects.create(user=user, title="Classifier-Free Diffusion Guidance")
    assert indexing.index_paper(paper.pk) == "indexed"
    about = note(user, "Guidance sweep log", "Swept the guidance scale of classifier-free diffusion guidance.", paper=paper)
    body = search(q="classifier-free diffusion guidance", mode="keyword").json()
    [hit] = [h for h in body["hits"] if h["paper_id"] == paper.pk]
    assert hit["kind"] == "paper" and [n["note_id"] for n in hit["notes"]] == [about.pk]
    assert hit["notes"][0]["title"] == "Guidance sweep log" and hit["notes"][0]["notes"] == []
