"""Another user's note, paper, snippet or revision: 404 on every view, never its content."""

import pytest
from django.urls import reverse

from notes.models import Note, Paper, Snippet

SECRET = "mallory-secret-text"


@pytest.fixture
def theirs(other_user):
    paper = Paper.objects.create(user=other_user, title=f"{SECRET} paper", arxiv_id="2303.17580")
    note = Note.objects.create_note(other_user, title=f"{SECRET} note", body=f"{SECRET} v1", paper=paper)
    note = note.apply_edit(base_version=1, title=f"{SECRET} note", body=f"{SECRET} v2")
    snippet = Snippet.objects.create(note=note, kind="quote", text=f"{SECRET} quote")
    return {"note": note, "paper": paper, "snippet": snippet}


def urls(theirs):
    note, paper, snippet = theirs["note"].pk, theirs["paper"].pk, theirs["snippet"].pk
    return [
        ("get", reverse("notes:note", args=[note])),
        ("get", reverse("notes:edit", args=[note])),
        ("post", reverse("notes:edit", args=[note])),
        ("get", reverse("notes:delete", args=[note])),
        ("post", reverse("notes:delete", args=[note])),
        ("get", reverse("notes:revisions", args=[note])),
        ("get", reverse("notes:revision", args=[note, 1])),
        ("post", reverse("notes:revision_restore", args=[note, 1])),
        ("post", reverse("notes:snippet_add", args=[note])),
        ("post", reverse("notes:snippet_reorder", args=[note])),
        ("get", reverse("notes:snippet", args=[snippet])),
        ("get", reverse("notes:snippet_edit", args=[snippet])),
        ("post", reverse("notes:snippet_edit", args=[snippet])),
        ("post", reverse("notes:snippet_delete", args=[snippet])),
        ("post", reverse("notes:snippet_move", args=[snippet, "up"])),
        ("get", reverse("notes:paper", args=[paper])),
        ("get", reverse("notes:paper_edit", args=[paper])),
        ("post", reverse("notes:paper_edit", args=[paper])),
        ("get", reverse("notes:paper_delete", args=[paper])),
        ("post", reverse("notes:paper_delete", args=[paper])),
    ]


def test_every_view_of_another_users_objects_is_404_and_changes_nothing(auth_client, theirs):
    data = {"title": "hijack", "body": "hijack", "base_version": 2, "kind": "quote", "text": "hijack"}
    for method, url in urls(theirs):
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = getattr(auth_client, method)(url, data if method == "post" else None, **headers)
            assert response.status_code == 404, (method, url, response.status_code)
            assert SECRET not in response.content.decode(), (method, url)
    note = Note.objects.get(pk=theirs["note"].pk)
    assert (note.body, note.version) == (f"{SECRET} v2", 2)
    assert Snippet.objects.get(pk=theirs["snippet"].pk).text == f"{SECRET} quote"
    assert Paper.objects.filter(pk=theirs["paper"].pk).exists()


def test_own_log_papers_and_wiki_never_show_another_users_notes(auth_client, theirs):
    for url in (reverse("notes:log"), reverse("notes:papers")):
        assert SECRET not in auth_client.get(url).content.decode()
    assert not auth_client.get(reverse("notes:log"), {"q": SECRET}).context["page"].object_list
    response = auth_client.get(reverse("notes:wiki"), {"title": f"{SECRET} note"})
    assert response["Location"].startswith(reverse("notes:new"))
    assert auth_client.get(reverse("notes:log"), {"paper": theirs["paper"].pk}).context["form"].errors


def test_preview_does_not_reveal_whether_another_user_has_a_note(auth_client, theirs):
    html = auth_client.post(reverse("notes:preview"), {"body": f"[[{SECRET} note]]"}).content.decode()
    assert 'class="wikilink missing"' in html


def test_paper_choices_in_the_note_form_are_only_the_users_own(auth_client, theirs, user):
    form = auth_client.get(reverse("notes:new"), {"paper": theirs["paper"].pk}).context["form"]
    assert list(form.fields["paper"].queryset) == []
    assert form["paper"].value() is None


def test_a_new_note_posted_with_another_users_client_id_never_edits_their_note(auth_client, other_user, user):
    client_id = "6f1c2a57-3a6e-4c59-9a8e-0f2b9d1e7c11"
    Note.objects.create_note(other_user, title=f"{SECRET} draft", body=SECRET, client_id=client_id)
    for autosave in ("1", ""):
        response = auth_client.post(
            reverse("notes:new"), {"title": "mine", "body": "my text", "client_id": client_id, "autosave": autosave},
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 200 and SECRET not in response.content.decode()
    assert Note.objects.get(user=other_user).body == SECRET
    assert list(Note.objects.filter(user=user).values_list("body", flat=True)) == ["my text"]
