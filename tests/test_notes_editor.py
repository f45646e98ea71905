"""The editor: create, autosave/save races, stale tabs, size limit, preview, delete, wiki route."""

import uuid

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from notes.models import Note, Revision


@pytest.fixture
def note(user):
    return Note.objects.create_note(user, title="Guidance", body="first text", tags=["cfg"])


def edit(client, note, *, base_version, body, title="Guidance", tags="cfg", htmx=True):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    data = {"title": title, "body": body, "tags": tags, "paper": "", "base_version": base_version}
    return client.post(reverse("notes:edit", args=[note.pk]), data, **headers)


def test_double_submitted_new_note_form_creates_one_note(auth_client, user):
    form = {"title": "", "body": "# Twice clicked\nbody", "tags": "a b", "paper": "", "client_id": str(uuid.uuid4())}
    first = auth_client.post(reverse("notes:new"), form)
    second = auth_client.post(reverse("notes:new"), form)
    assert Note.objects.filter(user=user).count() == 1
    note = Note.objects.get(user=user)
    assert first["Location"] == second["Location"] == note.get_absolute_url()
    assert note.title == "Twice clicked" and note.tag_names() == ["a", "b"]


def autosave_new(client, client_id, *, body, title="", base_version="", autosave=True):
    data = {"title": title, "body": body, "tags": "", "paper": "", "client_id": client_id, "base_version": base_version}
    if autosave:
        data["autosave"] = "1"
    return client.post(reverse("notes:new"), data, HTTP_HX_REQUEST="true")


def test_first_autosave_of_a_new_note_creates_it_and_turns_the_page_into_its_editor(auth_client, user):
    response = autosave_new(auth_client, str(uuid.uuid4()), body="# Fresh idea\nfirst words")
    note = Note.objects.get(user=user)
    assert (note.title, note.body, note.version) == ("Fresh idea", "# Fresh idea\nfirst words", 1)
    edit_url = reverse("notes:edit", args=[note.pk])
    assert response.status_code == 200 and response["HX-Replace-Url"] == edit_url
    html = response.content.decode()
    assert 'data-state="saved"' in html and f'data-edit-url="{edit_url}"' in html
    assert 'name="base_version" id="id_base_version" value="1" hx-swap-oob="true"' in html
    assert 'id="page-head" hx-swap-oob="true"' in html and "Editing" in html


def test_autosave_racing_save_on_a_new_note_makes_one_note_with_the_latest_text(auth_client, user):
    client_id = str(uuid.uuid4())
    autosave_new(auth_client, client_id, body="half a thought")
    # Save was clicked before the autosave's answer arrived: same client_id, no base version yet.
    save = autosave_new(auth_client, client_id, body="half a thought, finished", autosave=False)
    again = autosave_new(auth_client, client_id, body="half a thought, finished", autosave=False)  # double click
    note = Note.objects.get(user=user)
    assert save["HX-Redirect"] == again["HX-Redirect"] == note.get_absolute_url()
    assert (note.body, note.version) == ("half a thought, finished", 2)
    assert note.revisions.get().body == "half a thought"


def test_later_autosaves_of_a_created_note_are_versioned_edits(auth_client, user):
    client_id = str(uuid.uuid4())
    autosave_new(auth_client, client_id, body="one")
    autosave_new(auth_client, client_id, body="one two", base_version=1)
    stale = autosave_new(auth_client, client_id, body="one three", base_version=1)
    assert stale.status_code == 409 and "one two" in stale.content.decode()
    note = Note.objects.get(user=user)
    assert (note.body, note.version) == ("one two", 2)


def test_new_note_form_is_prefilled_from_the_query_and_carries_a_client_id(auth_client):
    response = auth_client.get(reverse("notes:new"), {"title": "Classifier-free guidance"})
    form = response.context["form"]
    assert form["title"].value() == "Classifier-free guidance"
    assert uuid.UUID(str(form["client_id"].value()))
    assert 'name="client_id"' in response.content.decode()


def test_empty_title_is_derived_from_the_first_line_of_the_body(auth_client, user):
    auth_client.post(reverse("notes:new"), {"title": " ", "body": "\n## Ablation plan\n- scale 3", "client_id": str(uuid.uuid4())})
    assert Note.objects.get(user=user).title == "Ablation plan"


def test_autosave_racing_a_manual_save_of_the_same_text_makes_one_version(auth_client, note):
    autosave = edit(auth_client, note, base_version=1, body="typed text")
    manual = edit(auth_client, note, base_version=1, body="typed text")  # sent before the autosave answered
    assert autosave.status_code == manual.status_code == 200
    note.refresh_from_db()
    assert (note.body, note.version) == ("typed text", 2)
    assert Revision.objects.filter(note=note).count() == 1
    assert "Saved" in manual.content.decode()


def test_each_save_answers_with_the_new_base_version_for_the_next_save(auth_client, note):
    response = edit(auth_client, note, base_version=1, body="second")
    html = response.content.decode()
    assert 'name="base_version"' in html and 'value="2"' in html and 'hx-swap-oob="true"' in html
    assert edit(auth_client, note, base_version=2, body="third").status_code == 200
    note.refresh_from_db()
    assert (note.body, note.version) == ("third", 3)


def test_stale_tab_save_is_refused_with_both_texts_and_the_database_keeps_the_newer_one(auth_client, note):
    edit(auth_client, note, base_version=1, body="tab A wrote this")
    response = edit(auth_client, note, base_version=1, body="tab B wrote that")
    assert response.status_code == 409
    html = response.content.decode()
    assert "tab A wrote this" in html and "tab B wrote that" in html
    assert "Keep mine" in html and "Take the saved version" in html
    note.refresh_from_db()
    assert (note.body, note.version) == ("tab A wrote this", 2)


def test_keep_mine_after_a_conflict_saves_on_top_of_the_newer_version(auth_client, note):
    edit(auth_client, note, base_version=1, body="tab A")
    assert edit(auth_client, note, base_version=1, body="tab B").status_code == 409
    assert edit(auth_client, note, base_version=2, body="tab B").status_code == 200
    note.refresh_from_db()
    assert (note.body, note.version) == ("tab B", 3)
    assert list(Revision.objects.filter(note=note).values_list("body", flat=True)) == ["tab A", "first text"]


@override_settings(NOTE_BODY_MAX_BYTES=1_000_000)
def test_body_over_one_megabyte_is_refused_with_a_form_error_and_nothing_saved(auth_client, user, note):
    huge = "é" * 500_001  # 1,000,002 bytes of UTF-8
    response = edit(auth_client, note, base_version=1, body=huge)
    assert response.status_code == 422
    assert "too long" in response.content.decode()
    note.refresh_from_db()
    assert note.body == "first text" and note.version == 1
    created = auth_client.post(reverse("notes:new"), {"body": huge, "client_id": str(uuid.uuid4())})
    assert created.status_code == 422 and "too long" in created.content.decode()
    assert Note.objects.filter(user=user).count() == 1


def test_save_without_htmx_goes_back_to_the_note(auth_client, note):
    response = edit(auth_client, note, base_version=1, body="plain form post", htmx=False)
    assert response.status_code == 302 and response["Location"] == note.get_absolute_url()


def test_preview_renders_markdown_and_marks_missing_wiki_links(auth_client, user, note):
    response = auth_client.post(reverse("notes:preview"), {"body": "**bold** [[Guidance]] and [[Nowhere yet]]"})
    html = response.content.decode()
    assert "<strong>bold</strong>" in html
    assert 'class="wikilink" href="/notes/wiki/?title=Guidance"' in html
    assert 'class="wikilink missing"' in html and "Nowhere yet" in html


def test_post_without_csrf_token_is_refused(user, note):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(reverse("notes:edit", args=[note.pk]), {"title": "x", "body": "x", "base_version": 1})
    assert response.status_code == 403
    note.refresh_from_db()
    assert note.body == "first text"
    assert client.post(reverse("notes:new"), {"body": "new"}).status_code == 403
    assert Note.objects.count() == 1


def test_deleting_a_note_asks_first_then_removes_it(auth_client, note):
    confirm = auth_client.get(reverse("notes:delete", args=[note.pk]))
    assert "Delete “Guidance”?" in confirm.content.decode()
    assert Note.objects.filter(pk=note.pk).exists()
    response = auth_client.post(reverse("notes:delete", args=[note.pk]))
    assert response["Location"] == reverse("notes:log")
    assert not Note.objects.filter(pk=note.pk).exists()


def test_wiki_link_to_an_existing_title_opens_that_note_whatever_the_case(auth_client, note):
    response = auth_client.get(reverse("notes:wiki"), {"title": "guidance"})
    assert response["Location"] == note.get_absolute_url()


def test_wiki_link_to_a_missing_note_opens_the_new_note_form_prefilled(auth_client):
    response = auth_client.get(reverse("notes:wiki"), {"title": "Diffusion sampling"}, follow=True)
    assert response.context["form"]["title"].value() == "Diffusion sampling"
    assert response.redirect_chain[-1][0].startswith(reverse("notes:new"))


def test_htmx_posts_carry_the_csrf_token_from_the_page(user, note):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get(reverse("notes:edit", args=[note.pk])).content.decode()
    import re

    token = re.search(r"hx-headers='\{\"x-csrftoken\": \"([^\"]+)\"\}'", page).group(1)
    response = client.post(
        reverse("notes:edit", args=[note.pk]), {"title": "Guidance", "body": "via htmx", "base_version": 1},
        HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200
    note.refresh_from_db()
    assert note.body == "via htmx"


def test_a_refused_save_keeps_its_base_version_so_a_newer_save_elsewhere_still_conflicts(auth_client, note):
    note.apply_edit(base_version=1, title="Guidance", body="saved in another tab")
    response = edit(auth_client, note, base_version=1, body="x" * 20, title="t" * 400)  # invalid: title too long
    assert response.status_code == 422
    assert 'name="base_version" id="id_base_version" value="1"' in response.content.decode()
