"""Only the note's owner can see or touch its runnables, runs and artifacts: everyone else gets 404."""

import io

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from notes.models import Note
from workers.jobs import get_kind
from workers.models import Run, Runnable

pytestmark = pytest.mark.django_db


@pytest.fixture
def stranger(other_user):
    """A logged-in client of another user (conftest's stranger needs a fixture this pytest-django lacks)."""
    client = Client()
    client.force_login(other_user)
    return client


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (4, 4), 128).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def finished_run(user):
    note = Note.objects.create_note(user, title="Private experiment")
    runnable = Runnable.objects.create(note=note, kind="cfg_diffusion", params=get_kind("cfg_diffusion").defaults())
    run = Run.objects.create(runnable=runnable, params=runnable.params)
    assert run.claim("owner-1", "test-host")
    run.save_artifact("owner-1", "grid_w0.png", png_bytes(), "image/png")
    run.finish("owner-1", Run.SUCCEEDED, metrics={"accuracy": {"0": 0.1}})
    return run


def test_owner_sees_run_and_artifact(auth_client, finished_run):
    assert auth_client.get(reverse("workers:run", args=[finished_run.pk])).status_code == 200
    assert auth_client.get(reverse("workers:artifact", args=[finished_run.pk, "grid_w0.png"])).status_code == 200


def test_another_user_gets_404_everywhere(stranger, finished_run):
    run, runnable, note = finished_run, finished_run.runnable, finished_run.runnable.note
    gets = [
        reverse("notes:note", args=[note.pk]),
        reverse("workers:note_runnables", args=[note.pk]),
        reverse("workers:runnable_add", args=[note.pk]),
        reverse("workers:runnable_add", args=[note.pk]) + "?kind=cfg_diffusion",
        reverse("workers:runnable", args=[runnable.pk]),
        reverse("workers:run", args=[run.pk]),
        reverse("workers:artifact", args=[run.pk, "grid_w0.png"]),
        reverse("workers:compare") + f"?runs={run.pk}&runs={run.pk + 1000}",
    ]
    for url in gets:
        response = stranger.get(url)
        assert response.status_code == 404, url
        assert b"Private experiment" not in response.content
    posts = [
        reverse("workers:runnable_add", args=[note.pk]),
        reverse("workers:runnable", args=[runnable.pk]),
        reverse("workers:runnable_run", args=[runnable.pk]),
        reverse("workers:runnable_delete", args=[runnable.pk]),
        reverse("workers:run_cancel", args=[run.pk]),
        reverse("workers:run_rerun", args=[run.pk]),
    ]
    for url in posts:
        assert stranger.post(url, {"kind": "cfg_diffusion"}).status_code == 404, url
    assert Run.objects.count() == 1 and Runnable.objects.count() == 1


def test_compare_mixing_own_and_foreign_runs_is_404(finished_run, other_user, stranger):
    mine = Note.objects.create_note(other_user, title="Mallory's")
    runnable = Runnable.objects.create(note=mine, kind="cfg_diffusion", params={})
    own_run = Run.objects.create(runnable=runnable, params={})
    url = reverse("workers:compare") + f"?runs={own_run.pk}&runs={finished_run.pk}"
    assert stranger.get(url).status_code == 404


def test_anonymous_is_sent_to_login(client, finished_run):
    response = client.get(reverse("workers:artifact", args=[finished_run.pk, "grid_w0.png"]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
