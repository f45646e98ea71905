"""What a crafted link or a broken client sends is answered as a missing object, a form error
or a 400 with a reason, never with a server error: an id that is not one (another script's
digits such as "²", which Python's isdigit() accepts, or more digits than any key), a NUL
character in an address, text longer than any title, a header no browser sends."""

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


@pytest.mark.parametrize("view", ["notes:new", "notes:paper_arxiv_field"])
def test_a_paper_to_prefill_that_is_no_id_is_no_paper(auth_client, user, view):
    paper = Paper.objects.create(user=user, title="Attention is all you need")
    for bad in NOT_IDS:
        assert auth_client.get(reverse(view), {"paper": bad}).status_code == 200
    assert "Attention is all you need" in auth_client.get(reverse("notes:new"), {"paper": paper.pk}).content.decode()


def test_a_nul_character_in_a_query_reads_as_a_space(auth_client, user):
    note = Note.objects.create_note(user, title="Flash attention", tags=["gpu"])
    assert auth_client.get("/notes/wiki/?title=Flash%00attention")["Location"] == note.get_absolute_url()
    assert "Flash attention" in auth_client.get("/?q=flash%00attention").content.decode()
    assert auth_client.get("/?tag=gp%00u").status_code == 200  # no such tag: no note
    assert auth_client.get("/papers/suggest/?q=a%00b").status_code == 200
    assert auth_client.get("/search/?q=flash%00attention").status_code == 200


@pytest.mark.parametrize("address", ["/runs/1/artifacts/a%00b", "/api/runs/1/artifacts/a%00b", "/notes/%00/"])
def test_an_address_whose_path_has_a_nul_character_is_refused_with_a_reason(auth_client, address):
    response = auth_client.get(address)
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


def test_text_longer_than_any_title_is_a_form_error_or_no_match(auth_client, user):
    Note.objects.create_note(user, title="Flash attention")
    Paper.objects.create(user=user, title="FlashAttention")
    log = auth_client.get(reverse("notes:log"), {"q": "attention " * 10_000, "tag": "t" * 200})
    assert log.status_code == 200
    assert "Text: Ensure this value has at most 500 characters" in log.content.decode()
    suggest = auth_client.get(reverse("notes:paper_suggest"), {"q": "attention " * 10_000})
    assert suggest.status_code == 200 and "FlashAttention" not in suggest.content.decode()


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


def test_a_runnable_form_asked_with_a_broken_current_url_header_still_renders(auth_client, two_runs):
    runnable, _ = two_runs
    headers = {"HX-Request": "true", "HX-Current-URL": "http://["}
    assert auth_client.get(reverse("workers:runnable", args=[runnable.pk]), headers=headers).status_code == 200
    add = reverse("workers:runnable_add", args=[runnable.note_id])
    assert auth_client.get(add, {"kind": "cfg_diffusion"}, headers=headers).status_code == 200
