"""An autosave the server refuses says why in the editor, not only "not saved", and the
typed text stays (Debian's Chromium through Playwright)."""

import pytest
from playwright.sync_api import expect

from notes.models import Note
from tests.browser import browser_context, chromium, logged_in_page, page  # noqa: F401

pytestmark = pytest.mark.browser


def test_an_autosave_refused_as_not_utf8_shows_the_reason_and_keeps_the_text(logged_in_page, user):
    note = Note.objects.create_note(user, title="Greetings", body="start")
    page = logged_in_page

    def as_latin1(route):
        # What a client that sends another encoding posts: "grüße" in Latin-1, not UTF-8.
        if route.request.method == "POST":
            route.continue_(post_data=route.request.post_data_buffer.replace(b"gr%C3%BC%C3%9Fe", b"gr%FC%DFe"))
        else:
            route.continue_()

    page.route(f"**/notes/{note.pk}/edit/", as_latin1)
    page.goto(f"/notes/{note.pk}/edit/")
    page.click("#id_body")
    page.keyboard.press("End")
    page.keyboard.type(" grüße")
    save_state = page.locator("#save-state")
    expect(save_state).to_have_attribute("data-state", "error", timeout=8000)
    expect(save_state).to_contain_text("not UTF-8")
    expect(save_state).to_contain_text("Nothing was saved")
    assert "answered 400" not in save_state.text_content()
    assert page.locator("#id_body").input_value() == "start grüße"
    assert Note.objects.get(pk=note.pk).body == "start"
