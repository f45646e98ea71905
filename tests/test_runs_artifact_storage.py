"""Where an artifact's bytes live: in its database row up to RUNS_ARTIFACT_DB_MAX_BYTES (what a
worker on another machine can always reach), in the default storage above it."""

import pytest
from django.core.files.storage import default_storage

from notes.models import Note
from workers.models import Run, RunArtifact, Runnable


@pytest.fixture
def run(user):
    note = Note.objects.create_note(user, title="Artifacts")
    return Run.objects.create(runnable=Runnable.objects.create(note=note, kind="cfg_diffusion", params={}), params={})


def test_small_artifact_lives_in_its_row_and_is_served_from_it(run, auth_client):
    item = RunArtifact.store(run, "table.csv", b"w,accuracy\n0,0.1\n", "text/csv")
    item.refresh_from_db()
    assert item.path == "" and bytes(item.data) == b"w,accuracy\n0,0.1\n" and item.size == 17
    response = auth_client.get(item.get_absolute_url())
    assert b"".join(response) == b"w,accuracy\n0,0.1\n"


def test_large_artifact_goes_to_the_default_storage_and_back_to_the_row_when_replaced(run, auth_client, settings):
    settings.RUNS_ARTIFACT_DB_MAX_BYTES = 10
    big = RunArtifact.store(run, "log.txt", b"x" * 100, "text/plain")
    assert big.data is None and big.path and default_storage.exists(big.path)
    assert big.read_bytes() == b"x" * 100
    assert b"".join(auth_client.get(big.get_absolute_url())) == b"x" * 100
    old_path = big.path
    small = RunArtifact.store(run, "log.txt", b"short", "text/plain")
    assert small.pk == big.pk and small.path == "" and small.read_bytes() == b"short"
    assert not default_storage.exists(old_path)  # the replaced file does not linger


def test_deleting_a_run_deletes_its_stored_files(run, settings, django_capture_on_commit_callbacks):
    settings.RUNS_ARTIFACT_DB_MAX_BYTES = 10
    big = RunArtifact.store(run, "log.txt", b"x" * 100, "text/plain")
    with django_capture_on_commit_callbacks(execute=True):
        run.delete()
    assert not default_storage.exists(big.path)
    assert not RunArtifact.objects.exists()


def test_pages_listing_artifacts_do_not_load_their_bytes(run, auth_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    RunArtifact.store(run, "table.csv", b"w,accuracy\n" + b"0,0.1\n" * 10_000, "text/csv")
    Run.objects.filter(pk=run.pk).update(status=Run.SUCCEEDED)
    with CaptureQueriesContext(connection) as queries:
        html = auth_client.get(reverse("workers:note_runnables", args=[run.runnable.note_id])).content.decode()
    assert "table.csv" in html
    artifact_reads = [q["sql"] for q in queries.captured_queries if "workers_runartifact" in q["sql"]]
    assert artifact_reads and not any('"data"' in sql or ".data" in sql for sql in artifact_reads)
