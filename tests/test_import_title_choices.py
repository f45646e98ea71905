"""A research-log entry no table-of-contents title matched with confidence is reported with the
few titles its section may have; one click in the report gives the note (and its unnamed
paper) the one the user picks, as an edit with a revision. Only the job's owner can, and only
a title the report offered."""

import re

import pytest
from django.urls import reverse

from exchange import services
from exchange.models import ImportJob
from notes.models import Note, Paper
from tests.test_import_files import data_file

COLPALI = "ColPali - Multimodal RAG made simpler and faster"


@pytest.fixture
def finished_log_import(user):
    job = ImportJob.objects.create(user=user, filename="research-log.txt", payload=data_file("research-log.txt").read_bytes())
    services.run_import_job(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.DONE and not job.report["failed"]
    return job


def colpali_notice(job) -> tuple[int, dict]:
    note = Note.objects.get(user=job.user, paper__arxiv_id="2407.01449")
    return next((i, n) for i, n in enumerate(job.report["notices"]) if n.get("note") == note.pk)


def test_the_report_offers_the_titles_and_one_click_titles_the_note_and_its_paper(finished_log_import, auth_client):
    job = finished_log_import
    index, notice = colpali_notice(job)
    page = auth_client.get(job.get_absolute_url()).content.decode()
    url = reverse("exchange:choose_title", args=[job.pk, index])
    form = re.search(rf'<form class="title-choices"[^>]*action="{re.escape(url)}".*?</form>', page, re.S)
    assert form and f"Use “{COLPALI}”" in form.group(0)

    response = auth_client.post(url, {"choice": notice["choices"].index(COLPALI)}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert f"Titled “{COLPALI}”" in response.content.decode() and "<form" not in response.content.decode()
    note = Note.objects.get(pk=notice["note"])
    assert note.title == COLPALI and note.revisions.count() == 1 and note.version == 2
    assert Paper.objects.get(user=job.user, arxiv_id="2407.01449").title == COLPALI
    # The report remembers it: the page says so instead of offering the titles again.
    page = auth_client.get(job.get_absolute_url()).content.decode()
    assert f"Titled “{COLPALI}”" in page and f'action="{url}"' not in page


def test_a_paper_with_a_name_keeps_it(finished_log_import, auth_client, user):
    job = finished_log_import
    index, notice = colpali_notice(job)
    Paper.objects.filter(user=user, arxiv_id="2407.01449").update(title="ColPali: Efficient Document Retrieval")
    auth_client.post(reverse("exchange:choose_title", args=[job.pk, index]), {"choice": 1})
    assert Note.objects.get(pk=notice["note"]).title == notice["choices"][1]
    assert Paper.objects.get(user=user, arxiv_id="2407.01449").title == "ColPali: Efficient Document Retrieval"


@pytest.mark.parametrize("choice", ["", "x", "-1", "99"])
def test_a_title_the_report_did_not_offer_changes_nothing(finished_log_import, auth_client, choice):
    job = finished_log_import
    index, notice = colpali_notice(job)
    before = Note.objects.get(pk=notice["note"]).title
    response = auth_client.post(reverse("exchange:choose_title", args=[job.pk, index]), {"choice": choice})
    assert response.status_code == 404
    assert Note.objects.get(pk=notice["note"]).title == before
    assert auth_client.post(reverse("exchange:choose_title", args=[job.pk, 10_000]), {"choice": 0}).status_code == 404


def test_only_the_owner_can_choose(finished_log_import, other_client):
    job = finished_log_import
    index, notice = colpali_notice(job)
    before = Note.objects.get(pk=notice["note"]).title
    response = other_client.post(reverse("exchange:choose_title", args=[job.pk, index]), {"choice": 0})
    assert response.status_code == 404
    assert Note.objects.get(pk=notice["note"]).title == before


def test_choosing_needs_a_post(finished_log_import, auth_client):
    index, _ = colpali_notice(finished_log_import)
    assert auth_client.get(reverse("exchange:choose_title", args=[finished_log_import.pk, index])).status_code == 405
