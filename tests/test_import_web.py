"""The Import page: upload or paste → a real Celery worker imports → progress → report."""

from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from exchange.models import ImportJob
from notes.models import Note, Paper
from tests.waiting import wait_for_htmx_stop

LOG = (b"Paper: [2305.01625] Unlimiformer: Long inputs\nkNN over the encoder states.\n"
       b"[2101.03961] Switch Transformers\nSparse experts.\n")


def wait_for_report(client, url):
    return wait_for_htmx_stop(client, url, 60, "the import did not finish")


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
    assert job.report["created"] == {"notes": 2, "papers": 2, "snippets": 0, "runs": 0, "files": 0}
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


def browser(user) -> Client:
    """A client that, like a browser, must send the form's CSRF token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(reverse("exchange:import"))
    return client


def test_pasting_more_than_the_form_limit_gives_the_page_back_with_a_form_error(user):
    client = browser(user)
    text = "@misc{k, title={Huge}}\n" + "%" * 6_000_000
    response = client.post(reverse("exchange:import"), {
        "csrfmiddlewaretoken": client.cookies["csrftoken"].value, "text": text, "format": "bibtex",
    })
    assert response.status_code == 400
    html = response.content.decode()
    assert "That text is 5.8 MB; paste at most 5 MB here, or upload it as a file (up to 50 MB)." in html
    # The format chosen is still chosen; the text itself is not sent back.
    assert '<option value="bibtex" selected>' in html
    assert "%%%%" not in html
    assert not ImportJob.objects.exists()


def test_an_oversized_urlencoded_paste_gets_the_same_form_error(auth_client, user):
    body = urlencode({"text": "x" * 6_000_000, "format": "bibtex"})
    response = auth_client.post(reverse("exchange:import"), body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "That text is 5.8 MB; paste at most 5 MB here" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_file_over_the_form_limit_but_under_the_upload_cap_is_queued(auth_client, user):
    data = b"@misc{k, title={Big file}}\n" + b"%" * 6_000_000
    response = auth_client.post(reverse("exchange:import"), {"file": SimpleUploadedFile("big.bib", data)})
    job = ImportJob.objects.get(user=user)
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert bytes(job.payload) == data


def test_import_form_still_needs_its_csrf_token(user):
    client = browser(user)
    forged = client.post(reverse("exchange:import"), {"text": "@misc{k, title={Forged}}"})
    assert forged.status_code == 403 and not ImportJob.objects.exists()
    sent = client.post(reverse("exchange:import"), {
        "csrfmiddlewaretoken": client.cookies["csrftoken"].value, "text": "@misc{k, title={Mine}}",
    })
    assert sent.status_code == 302 and ImportJob.objects.filter(user=user).count() == 1
