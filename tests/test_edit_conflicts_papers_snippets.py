"""Papers and snippets get the notes' optimistic version check: two tabs (or two API
clients) editing from the same version, the second save is refused with 409 and both
versions shown; nothing is silently overwritten."""

import re

import pytest
from django.urls import reverse

from api.models import ApiToken
from notes.models import EditConflict, Note, Paper, Snippet

HX = {"HTTP_HX_REQUEST": "true"}


def form_data(html: str) -> dict:
    """The values a browser would submit from the page's form (inputs and textareas)."""
    data = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html):
        data[name] = value
    for name, value in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>\n?(.*?)</textarea>', html, re.S):
        data[name] = value
    for name, value in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>.*?<option value="([^"]*)"[^>]*selected', html, re.S):
        data[name] = value
    data.pop("csrfmiddlewaretoken", None)
    return data


@pytest.fixture
def paper(user):
    return Paper.objects.create(user=user, title="Attention", venue="arXiv", doi="")


def test_two_tabs_editing_a_paper_second_save_is_a_409_with_both_versions(auth_client, paper):
    url = reverse("notes:paper_edit", args=[paper.pk])
    tab_a = form_data(auth_client.get(url).content.decode())
    tab_b = form_data(auth_client.get(url).content.decode())
    assert tab_a["base_version"] == tab_b["base_version"] == "1"
    assert auth_client.post(url, {**tab_a, "doi": "10.5555/3295222"}).status_code == 302
    response = auth_client.post(url, {**tab_b, "venue": "NeurIPS"})
    assert response.status_code == 409
    html = response.content.decode()
    assert "changed in another tab or device" in html
    assert re.search(r'<th>DOI</th><td data-side="yours"></td><td data-side="theirs">10.5555/3295222</td>', html)
    assert re.search(r'<th>Venue</th><td data-side="yours">NeurIPS</td><td data-side="theirs">arXiv</td>', html)
    paper.refresh_from_db()
    # The first tab's DOI is not erased by the second tab's venue edit.
    assert (paper.doi, paper.venue, paper.version) == ("10.5555/3295222", "arXiv", 2)
    # "Keep mine" submits the form again, now based on version 2: it saves over it, knowingly.
    again = form_data(html)
    assert again["base_version"] == "2" and again["venue"] == "NeurIPS"
    assert auth_client.post(url, again).status_code == 302
    paper.refresh_from_db()
    assert (paper.venue, paper.version) == ("NeurIPS", 3)


def test_saving_the_same_paper_form_twice_is_not_a_conflict(auth_client, paper):
    url = reverse("notes:paper_edit", args=[paper.pk])
    data = {**form_data(auth_client.get(url).content.decode()), "venue": "ICML"}
    assert auth_client.post(url, data).status_code == 302
    assert auth_client.post(url, data).status_code == 302  # a double submit
    paper.refresh_from_db()
    assert (paper.venue, paper.version) == ("ICML", 2)


def test_two_tabs_editing_a_snippet_second_save_is_a_409_with_both_versions(auth_client, user):
    note = Note.objects.create_note(user, title="Reading", body="")
    snippet = Snippet.objects.create(note=note, kind="quote", text="old words", locator="p. 1")
    url = reverse("notes:snippet_edit", args=[snippet.pk])
    tab_a = form_data(auth_client.get(url, **HX).content.decode())
    tab_b = form_data(auth_client.get(url, **HX).content.decode())
    prefix = f"s{snippet.pk}-"
    first = auth_client.post(url, {**tab_a, prefix + "text": "words from tab A"}, **HX)
    assert first.status_code == 200 and "words from tab A" in first.content.decode()
    second = auth_client.post(url, {**tab_b, prefix + "locator": "p. 2"}, **HX)
    assert second.status_code == 409
    html = second.content.decode()
    assert f'id="snippet-{snippet.pk}"' in html and "This snippet changed in another tab or device" in html
    assert re.search(r'<td data-side="yours">old words</td><td data-side="theirs">words from tab A</td>', html)
    snippet.refresh_from_db()
    assert (snippet.text, snippet.locator, snippet.version) == ("words from tab A", "p. 1", 2)
    assert form_data(html)[prefix + "base_version"] == "2"


@pytest.fixture
def api_client(client, user):
    raw = ApiToken.issue(user, "tests", days=1)[1]

    def call(method, path, body):
        return getattr(client, method)(path, data=body, content_type="application/json",
                                       HTTP_AUTHORIZATION=f"Bearer {raw}")

    return call


def test_two_api_clients_patching_a_paper_from_the_same_version(api_client, paper):
    first = api_client("patch", f"/api/papers/{paper.pk}", {"base_version": 1, "doi": "10.1/x"})
    assert first.status_code == 200 and first.json()["version"] == 2
    second = api_client("patch", f"/api/papers/{paper.pk}", {"base_version": 1, "venue": "NeurIPS"})
    assert second.status_code == 409
    assert second.json()["current"]["doi"] == "10.1/x" and second.json()["current"]["version"] == 2
    paper.refresh_from_db()
    assert (paper.doi, paper.venue) == ("10.1/x", "arXiv")


def test_two_api_clients_patching_a_snippet_from_the_same_version(api_client, user):
    note = Note.objects.create_note(user, title="T", body="")
    snippet = Snippet.objects.create(note=note, kind="code", text="x = 1", language="python")
    assert api_client("patch", f"/api/snippets/{snippet.pk}", {"base_version": 1, "text": "x = 2"}).status_code == 200
    second = api_client("patch", f"/api/snippets/{snippet.pk}", {"base_version": 1, "comment": "why"})
    assert second.status_code == 409 and second.json()["current"]["text"] == "x = 2"
    missing = api_client("patch", f"/api/snippets/{snippet.pk}", {"comment": "why"})
    assert missing.status_code == 422  # base_version is required


def test_model_edit_raises_a_conflict_and_keeps_the_newer_version(user, paper):
    paper.apply_edit(base_version=1, doi="10.1/x")
    with pytest.raises(EditConflict) as conflict:
        paper.apply_edit(base_version=1, venue="NeurIPS")
    assert conflict.value.current.doi == "10.1/x"
