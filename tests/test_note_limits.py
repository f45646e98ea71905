"""Limits live in the model layer, so the web, the API, the importers and the admin all
enforce them with a clear message: note body size, tags per note, tag length. Tags no
note uses any more leave the tag lists."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from api.models import ApiToken
from exchange.importers import import_bytes
from notes.models import MAX_TAGS_PER_NOTE, Note, Tag

TOO_MANY = [f"t{i}" for i in range(MAX_TAGS_PER_NOTE + 1)]


def test_models_refuse_too_many_tags_too_long_a_tag_and_too_big_a_body(user, settings):
    settings.NOTE_BODY_MAX_BYTES = 100
    with pytest.raises(ValidationError, match="at most 64 tags; this one has 65"):
        Note.objects.create_note(user, title="T", body="x", tags=TOO_MANY)
    with pytest.raises(ValidationError, match="at most 64 characters"):
        Note.objects.create_note(user, title="T", body="x", tags=["x" * 65])
    with pytest.raises(ValidationError, match="too long to save: 101 bytes"):
        Note.objects.create_note(user, title="T", body="x" * 101)
    note = Note.objects.create_note(user, title="T", body="x", tags=[f"t{i}" for i in range(64)])
    with pytest.raises(ValidationError):
        note.apply_edit(base_version=1, title="T", body="y" * 101)
    assert not Note.objects.filter(title="T", body="").exists() and Note.objects.count() == 1


def test_the_editor_form_says_how_many_tags_is_too_many(auth_client, user):
    note = Note.objects.create_note(user, title="T", body="x")
    response = auth_client.post(reverse("notes:edit", args=[note.pk]), {
        "title": "T", "body": "x", "tags": ", ".join(TOO_MANY), "base_version": 1,
    })
    assert response.status_code in (200, 422)
    assert "A note can have at most 64 tags; this one has 65." in response.content.decode()
    assert Note.objects.get(pk=note.pk).tags.count() == 0


def test_the_api_refuses_too_many_tags_with_a_422(client, user):
    raw = ApiToken.issue(user, "tests", days=1)[1]
    response = client.post("/api/notes/", data=json.dumps({"title": "T", "tags": TOO_MANY}),
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 422 and "at most 64 tags" in response.json()["detail"]
    assert not Note.objects.exists()


def test_an_import_with_too_many_tags_fails_that_note_alone(user):
    text = "---\ntags: [" + ", ".join(TOO_MANY) + "]\n---\nbody\n"
    report = import_bytes(user, "many.md", text.encode()).as_dict()
    assert report["failed"] == [{"item": "many.md", "reason": "A note can have at most 64 tags; this one has 65."}]


def test_the_admin_refuses_too_many_tags_with_a_form_error(client, user):
    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    tags = [Tag.objects.create(user=user, name=name) for name in TOO_MANY]
    response = client.post(reverse("admin:notes_note_add"), {
        "user": user.pk, "title": "T", "body": "x", "tags": [t.pk for t in tags], "searchable": "on",
        "snippets-TOTAL_FORMS": 0, "snippets-INITIAL_FORMS": 0, "attachments-TOTAL_FORMS": 0, "attachments-INITIAL_FORMS": 0, "revisions-TOTAL_FORMS": 0,
        "revisions-INITIAL_FORMS": 0,
    })
    assert response.status_code == 200 and "at most 64 tags" in response.content.decode()
    assert not Note.objects.exists()


def test_tags_no_note_uses_any_more_are_gone(user, django_capture_on_commit_callbacks):
    note = Note.objects.create_note(user, title="Many", body="x", tags=[f"t{i}" for i in range(64)])
    keep = Note.objects.create_note(user, title="Keep", body="x", tags=["t1", "kept"])
    note.apply_edit(base_version=1, title="Many", body="x", tags=["t0", "t1"])
    assert sorted(Tag.objects.for_user(user).values_list("name", flat=True)) == ["kept", "t0", "t1"]
    with django_capture_on_commit_callbacks(execute=True):
        note.delete()
    assert sorted(Tag.objects.for_user(user).values_list("name", flat=True)) == ["kept", "t1"]
    with django_capture_on_commit_callbacks(execute=True):
        Note.objects.filter(pk=keep.pk).delete()  # a bulk delete prunes too
    assert not Tag.objects.for_user(user).exists()
