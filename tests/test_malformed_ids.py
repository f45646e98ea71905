"""An id in a link or a form field that is not one (another script's digits such as "²",
which Python's isdigit() accepts, or more digits than any key) is answered as a missing
object or a form error, never with a server error."""

import pytest
from django.urls import reverse

from lablog.ids import parse_id
from notes.models import Note, Paper, Snippet
from workers.models import Run, Runnable

pytestmark = pytest.mark.django_db

NOT_IDS = ["²", "٣", "1²", "99999999999999999999999", "-1", "1.0", " "]


def test_only_ascii_digits_that_fit_a_key_are_ids():
    assert parse_id("42") == 42 and parse_id(" 7 ") == 7 and parse_id("9" * 18) == 10**18 - 1
    assert [parse_id(text) for text in NOT_IDS] == [None] * len(NOT_IDS)


@pytest.mark.parametrize("paper", ["²", "99999999999999999999999"])
def test_a_paper_filter_that_is_no_id_is_a_form_error_on_search_and_log(auth_client, user, paper):
    Paper.objects.create(user=user, title="Attention is all you need")
    search = auth_client.get(reverse("search:results"), {"q": "attention", "paper": paper})
    assert search.status_code == 200
    assert "No paper titled" in search.content.decode()
    log = auth_client.get(reverse("notes:log"), {"paper": paper})
    assert log.status_code == 200
    assert "No paper titled" in log.content.decode()


def test_a_snippet_order_with_no_ids_in_it_keeps_the_order(auth_client, user):
    note = Note.objects.create_note(user, title="Quotes")
    first, second = (Snippet.objects.create(note=note, text=t) for t in ("one", "two"))
    response = auth_client.post(reverse("notes:snippet_reorder", args=[note.pk]), {"order": f"²,{second.pk},x,{first.pk}"})
    assert response.status_code == 200
    assert list(note.snippets.order_by("position").values_list("text", flat=True)) == ["two", "one"]


@pytest.fixture
def two_runs(user):
    note = Note.objects.create_note(user, title="Sweep")
    runnable = Runnable.objects.create(note=note, kind="cfg_diffusion", params={"seed": 1})
    return runnable, [Run.objects.create(runnable=runnable, params={"seed": seed}) for seed in (1, 2)]


@pytest.mark.parametrize("bad", NOT_IDS[:-1])
def test_comparing_a_run_id_that_is_no_id_is_a_missing_run(auth_client, two_runs, bad):
    _, (a, b) = two_runs
    assert auth_client.get(reverse("workers:compare"), {"runs": [a.pk, b.pk]}).status_code == 200
    assert auth_client.get(reverse("workers:compare"), {"runs": [a.pk, b.pk, bad]}).status_code == 404


@pytest.mark.parametrize("bad", NOT_IDS[:-1])
def test_a_run_to_start_from_that_is_no_id_is_a_missing_run(auth_client, two_runs, bad):
    runnable, (a, _) = two_runs
    url = reverse("workers:runnable", args=[runnable.pk])
    assert auth_client.get(url, {"from_run": a.pk}).status_code == 200
    assert auth_client.get(url, {"from_run": ""}).status_code == 200  # no run chosen
    assert auth_client.get(url, {"from_run": bad}).status_code == 404
