"""The Import page: upload or paste → a real Celery worker imports → progress → report."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from exchange.models import ImportJob
from notes.models import Note, Paper

LOG = (b"Paper: [2305.01625] Unlimiformer: Long inputs\nkNN over the encoder states.\n"
       b"[2101.03961] Switch Transformers\nSparse experts.\n")


def wait_for_report(client, url, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(url, HTTP_HX_REQUEST="true")
        if response.status_code == 286:
            return response
        assert response.status_code == 200
        time.sleep(0.3)
    raise AssertionError("the import did not finish")


@pytest.mark.worker
def test_uploaded_file_is_imported_by_a_worker_and_reported(celery_worker, auth_client, user):
    celery_worker(queues=["default"])
    response = auth_client.post(reverse("exchange:import"), {"file": SimpleUploadedFile("log.txt", LOG)})
    job = ImportJob.objects.get(user=user)
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    # While it runs the page polls; once finished, htmx gets 286 (stop polling) and the report.
    final = wait_for_report(auth_client, job.get_absolute_url())
    html = final.content.decode()
    assert 'data-status="done"' in html and "hx-trigger" not in html
    job.refresh_from_db()
    assert job.report["created"] == {"notes": 2, "papers": 2, "snippets": 0}
    assert job.payload == b"" or bytes(job.payload) == b""
    assert Note.objects.filter(user=user, paper__arxiv_id="2305.01625").count() == 1


@pytest.mark.worker
def test_pasted_text_is_imported(celery_worker, auth_client, user):
    celery_worker(queues=["default"])
    auth_client.post(reverse("exchange:import"), {"text": "@misc{k, title={Pasted Paper}}", "format": "bibtex"})
    wait_for_report(auth_client, ImportJob.objects.get(user=user).get_absolute_url())
    assert Paper.objects.filter(user=user, title="Pasted Paper").exists()


def test_import_page_shows_a_progress_bar_until_done(auth_client, user):
    job = ImportJob.objects.create(user=user, filename="log.txt", status=ImportJob.RUNNING, done=3, total=4)
    response = auth_client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<progress max="100" value="75">' in html and "Importing 3 of 4" in html
    assert "<html" not in html  # the fragment only


def test_form_needs_a_file_or_text(auth_client, user):
    response = auth_client.post(reverse("exchange:import"), {"text": "  "})
    assert response.status_code == 400
    assert "Choose a file or paste some text." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_oversized_upload_is_refused_with_413(auth_client, user, settings):
    settings.EXCHANGE_UPLOAD_MAX_BYTES = 1000
    response = auth_client.post(reverse("exchange:import"), {"file": SimpleUploadedFile("big.txt", b"x" * 200_000)})
    assert response.status_code == 413
    assert not ImportJob.objects.exists()


def test_upload_over_the_cap_but_under_the_slack_gets_a_form_error(auth_client, user, settings):
    settings.EXCHANGE_UPLOAD_MAX_BYTES = 1000
    response = auth_client.post(reverse("exchange:import"), {"file": SimpleUploadedFile("big.txt", b"x" * 2000)})
    assert response.status_code == 400
    assert "the limit is 1,000" in response.content.decode()


def test_another_users_import_is_not_found(client, user, other_user):
    job = ImportJob.objects.create(user=user, filename="secret.txt")
    client.force_login(other_user)
    assert client.get(job.get_absolute_url()).status_code == 404
