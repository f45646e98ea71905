"""Notes, papers and snippets over the API: CRUD, conflicts, other users' ids, bad input."""

import json

import pytest

from api.models import ApiToken
from notes.models import Note, Paper, Snippet


@pytest.fixture
def api(client, user):
    raw = ApiToken.issue(user, "tests", days=1)[1]

    def call(method, path, body=None, raw_body=None):
        data = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
        kwargs = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
        if data is not None:
            kwargs.update(data=data, content_type="application/json")
        return getattr(client, method)(path, **kwargs)

    return call


def test_note_crud(api, user):
    created = api("post", "/api/notes/", {"title": "Idea", "body": "text [[Other]]", "tags": ["ML", "#rl"]})
    assert created.status_code == 201
    note = created.json()
    assert note["version"] == 1 and note["tags"] == ["ml", "rl"]
    assert api("get", f"/api/notes/{note['id']}").json()["body"] == "text [[Other]]"
    updated = api("patch", f"/api/notes/{note['id']}", {"base_version": 1, "body": "better"})
    assert updated.status_code == 200 and updated.json()["version"] == 2 and updated.json()["title"] == "Idea"
    assert Note.objects.get(pk=note["id"]).revisions.get().body == "text [[Other]]"
    assert [n["id"] for n in api("get", "/api/notes/").json()] == [note["id"]]
    assert api("delete", f"/api/notes/{note['id']}").status_code == 204
    assert not Note.objects.filter(user=user).exists()


def test_stale_base_version_is_a_409_with_the_current_note(api, user):
    note = Note.objects.create_note(user, title="T", body="v1")
    note.apply_edit(base_version=1, title="T", body="v2 from another tab")
    response = api("patch", f"/api/notes/{note.pk}", {"base_version": 1, "body": "my v2"})
    assert response.status_code == 409
    assert response.json()["current"]["body"] == "v2 from another tab"
    assert Note.objects.get(pk=note.pk).body == "v2 from another tab"


def test_other_users_ids_are_404(api, other_user):
    theirs = Note.objects.create_note(other_user, title="Secret", body="x")
    paper = Paper.objects.create(user=other_user, title="Their paper")
    snippet = Snippet.objects.create(note=theirs, text="quote")
    for method, path, body in [
        ("get", f"/api/notes/{theirs.pk}", None), ("patch", f"/api/notes/{theirs.pk}", {"base_version": 1}),
        ("delete", f"/api/notes/{theirs.pk}", None), ("get", f"/api/notes/{theirs.pk}/snippets", None),
        ("get", f"/api/papers/{paper.pk}", None), ("delete", f"/api/papers/{paper.pk}", None),
        ("get", f"/api/snippets/{snippet.pk}", None), ("patch", f"/api/snippets/{snippet.pk}", {"base_version": 1, "text": "x"}),
        ("post", "/api/notes/", {"title": "mine", "paper_id": paper.pk}),
    ]:
        response = api(method, path, body)
        assert response.status_code == 404, (method, path)
        assert "Secret" not in response.content.decode()
    assert Note.objects.get(pk=theirs.pk).title == "Secret" and Snippet.objects.get(pk=snippet.pk).text == "quote"


@pytest.mark.parametrize("body", [
    {"title": 5}, {"tags": "not a list"}, {"paper_id": "abc"}, {"searchable": "maybe"},
])
def test_wrong_types_are_422(api, body):
    assert api("post", "/api/notes/", body).status_code == 422


def test_missing_base_version_and_malformed_json_are_4xx(api, user):
    note = Note.objects.create_note(user, title="T", body="x")
    assert api("patch", f"/api/notes/{note.pk}", {"body": "y"}).status_code == 422
    assert api("post", "/api/notes/", raw_body="{not json").status_code in (400, 422)


def test_oversized_body_is_413(api, settings):
    settings.API_MAX_BODY_BYTES = 1000
    assert api("post", "/api/notes/", {"body": "x" * 2000}).status_code == 413


def test_note_body_over_the_note_limit_is_422(api, settings):
    settings.NOTE_BODY_MAX_BYTES = 100
    response = api("post", "/api/notes/", {"body": "x" * 200})
    assert response.status_code == 422 and "limit" in response.json()["detail"]


def test_paper_crud_and_duplicate_arxiv_id(api, user):
    created = api("post", "/api/papers/", {"title": "Attention", "arxiv_id": "https://arxiv.org/abs/1706.03762v5",
                                           "year": 2017})
    assert created.status_code == 201 and created.json()["arxiv_id"] == "1706.03762"
    pid = created.json()["id"]
    assert api("post", "/api/papers/", {"title": "Dup", "arxiv_id": "1706.03762"}).status_code == 409
    assert api("patch", f"/api/papers/{pid}", {"base_version": 1, "venue": "NeurIPS"}).json()["venue"] == "NeurIPS"
    assert api("post", "/api/papers/", {"title": ""}).status_code == 422
    assert api("post", "/api/papers/", {"title": "Bad url", "url": "not a url"}).status_code == 422
    assert api("delete", f"/api/papers/{pid}").status_code == 204


def test_paper_author_count_and_date_are_set_read_and_cleared_over_the_api(api, user):
    created = api("post", "/api/papers/", {"title": "ITERTL", "author_count": 6, "published": "2024-06-27"}).json()
    assert (created["author_count"], created["published"], created["year"]) == (6, "2024-06-27", 2024)
    assert api("get", f"/api/papers/{created['id']}").json()["published"] == "2024-06-27"
    patched = api("patch", f"/api/papers/{created['id']}", {"base_version": 1, "author_count": None, "published": None}).json()
    assert (patched["author_count"], patched["published"], patched["year"]) == (None, None, 2024)
    assert api("post", "/api/papers/", {"title": "Bad", "published": "27 Jun 2024"}).status_code == 422
    assert api("post", "/api/papers/", {"title": "Bad", "author_count": -1}).status_code == 422


def test_snippet_crud(api, user):
    note = Note.objects.create_note(user, title="T", body="x")
    created = api("post", f"/api/notes/{note.pk}/snippets", {"kind": "code", "text": "x = 1", "language": "python"})
    assert created.status_code == 201
    sid = created.json()["id"]
    assert api("patch", f"/api/snippets/{sid}", {"base_version": 1, "comment": "why"}).json()["comment"] == "why"
    assert api("post", f"/api/notes/{note.pk}/snippets", {"kind": "poem"}).status_code == 422
    assert [s["id"] for s in api("get", f"/api/notes/{note.pk}/snippets").json()] == [sid]
    assert api("delete", f"/api/snippets/{sid}").status_code == 204
