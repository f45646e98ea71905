"""A note's files over the API: attach, list, download and delete, for the note's owner only,
with the same checks (kinds, size limit) and headers as the note page."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from api.models import ApiToken
from notes.models import Note


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), "red").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def bearer(user):
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user, 'tests', days=1)[1]}"}


@pytest.fixture
def note(user):
    return Note.objects.create_note(user, title="Sweep", body="The grid: ![[grid 1.png]]")


def test_a_file_is_attached_listed_downloaded_shown_and_deleted(client, bearer, note, user):
    url = f"/api/notes/{note.pk}/files"
    created = client.post(url, {"file": SimpleUploadedFile("grid 1.png", png())}, **bearer)
    assert created.status_code == 201
    body = created.json()
    assert (body["name"], body["content_type"], body["size"]) == ("grid 1.png", "image/png", len(png()))
    assert body["download"] == f"/api/notes/{note.pk}/files/grid%201.png"
    assert client.post(url, {"file": SimpleUploadedFile("grid 1.png", png())}, **bearer).status_code == 200
    assert [f["name"] for f in client.get(url, **bearer).json()] == ["grid 1.png"]
    download = client.get(body["download"], **bearer)
    assert (download.status_code, download["Content-Type"], download.content) == (200, "image/png", png())
    assert "sandbox" in download["Content-Security-Policy"]
    client.force_login(user)
    assert f'<img src="/notes/{note.pk}/files/grid%201.png"' in client.get(note.get_absolute_url()).content.decode()
    assert client.delete(body["download"], **bearer).status_code == 204
    assert client.get(url, **bearer).json() == [] and client.get(body["download"], **bearer).status_code == 404


def test_a_kind_a_note_does_not_keep_or_a_file_past_the_limit_is_a_422_with_the_reason(client, bearer, note, settings):
    settings.NOTE_ATTACHMENT_MAX_BYTES = 10
    url = f"/api/notes/{note.pk}/files"
    exe = client.post(url, {"file": SimpleUploadedFile("setup.exe", b"MZ")}, **bearer)
    assert exe.status_code == 422 and "cannot be attached: a note keeps images" in exe.json()["detail"]
    big = client.post(url, {"file": SimpleUploadedFile("grid.png", png())}, **bearer)
    assert big.status_code == 422 and "over the limit of 10 for a note's file" in big.json()["detail"]
    assert not note.attachments.exists()


def test_another_accounts_note_files_are_404(client, note, other_user):
    from notes.attachments import store

    store(note, "grid.png", png())
    theirs = {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(other_user, 'tests', days=1)[1]}"}
    url = f"/api/notes/{note.pk}/files"
    assert client.get(url, **theirs).status_code == 404
    assert client.get(f"{url}/grid.png", **theirs).status_code == 404
    assert client.delete(f"{url}/grid.png", **theirs).status_code == 404
    assert client.post(url, {"file": SimpleUploadedFile("x.png", png())}, **theirs).status_code == 404
    assert note.attachments.count() == 1


def test_a_file_larger_than_a_json_body_may_be_is_accepted_up_to_the_files_limit(client, bearer, note, settings):
    settings.API_MAX_BODY_BYTES = 1000
    settings.NOTE_ATTACHMENT_MAX_BYTES = 5000
    pdf = b"%PDF-1.4\n" + b"0" * 3000
    url = f"/api/notes/{note.pk}/files"
    assert client.post(url, {"file": SimpleUploadedFile("talk.pdf", pdf)}, **bearer).status_code == 201
    too_big = client.post(url, {"file": SimpleUploadedFile("huge.pdf", pdf * 30)}, **bearer)
    assert too_big.status_code == 413 and too_big.json()["detail"] == f"request body over {5000 + 64 * 1024:,} bytes"
