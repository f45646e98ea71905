"""In Chromium: an imported research-log entry reads as written (lines, lists, highlighted
code) and a paper edited in two tabs shows the refused save beside the saved one."""

import pytest

from exchange.importers import import_path
from notes.models import Note, Paper
from tests.browser import *  # noqa: F401,F403
from tests.browser import each_layout, screenshot
from tests.test_import_files import data_file

pytestmark = pytest.mark.browser


def test_imported_log_entry_shows_its_lines_and_code(logged_in_page, live_server, user):
    import_path(user, data_file("research-log.txt"))
    galore = Note.objects.get(user=user, paper__arxiv_id="2403.03507")
    page = logged_in_page
    for layout in each_layout(page):
        page.goto(f"{live_server.url}/notes/{galore.pk}/")
        code = page.locator("pre.highlight code.language-python").first
        code.wait_for()
        assert "def __init__(self, params" in code.inner_text()
        assert page.locator("pre.highlight .k").count() > 0  # keywords highlighted
        screenshot(page, f"log-import-galore-{layout}.png")
    lines = Note.objects.get(user=user, paper__arxiv_id="2303.16634")
    page.goto(f"{live_server.url}/notes/{lines.pk}/")
    assert page.locator("text=Works quite well in mac").evaluate("e => e.tagName") == "P"


def test_paper_edited_in_two_tabs_shows_both_versions(browser_context, live_server, user):
    from tests.browser import log_in

    paper = Paper.objects.create(user=user, title="Attention Is All You Need", venue="arXiv")
    log_in(browser_context, live_server.url, user)
    tab_a, tab_b = browser_context.new_page(), browser_context.new_page()
    url = f"{live_server.url}/papers/{paper.pk}/edit/"
    for tab in (tab_a, tab_b):
        tab.goto(url)
    tab_a.fill("#id_doi", "10.5555/3295222")
    tab_a.click("text=Save paper")
    tab_a.wait_for_url(f"{live_server.url}/papers/{paper.pk}/")
    tab_b.fill("#id_venue", "NeurIPS")
    tab_b.click("text=Save paper")
    tab_b.locator(".conflict").wait_for()
    assert "changed in another tab or device" in tab_b.locator(".conflict h2").inner_text()
    row = tab_b.locator(".conflict-fields tr.differs", has_text="Venue")
    assert "NeurIPS" in row.inner_text() and "arXiv" in row.inner_text()
    for layout in each_layout(tab_b):
        screenshot(tab_b, f"paper-conflict-{layout}.png")
    tab_b.click("text=Keep mine")
    tab_b.wait_for_url(f"{live_server.url}/papers/{paper.pk}/")
    paper.refresh_from_db()
    assert (paper.venue, paper.version) == ("NeurIPS", 3)


def test_snippet_edited_in_two_tabs_shows_both_versions(browser_context, live_server, user):
    from notes.models import Snippet
    from tests.browser import log_in

    note = Note.objects.create_note(user, title="Reading", body="Notes on attention.")
    snippet = Snippet.objects.create(note=note, kind="quote", text="old words", locator="p. 1")
    log_in(browser_context, live_server.url, user)
    tab_a, tab_b = browser_context.new_page(), browser_context.new_page()
    for tab in (tab_a, tab_b):
        tab.goto(f"{live_server.url}/notes/{note.pk}/")
        tab.click(f"#snippet-{snippet.pk} >> text=Edit")
        tab.locator(f"#snippet-{snippet.pk} textarea").first.wait_for()
    tab_a.fill(f"#id_s{snippet.pk}-text", "words from tab A")
    tab_a.click("text=Save snippet")
    tab_a.locator(f"#snippet-{snippet.pk}", has_text="words from tab A").wait_for()
    tab_b.fill(f"#id_s{snippet.pk}-locator", "p. 2")
    tab_b.click("text=Save snippet")
    conflict = tab_b.locator(f"#snippet-{snippet.pk} .conflict")
    conflict.wait_for()
    assert "words from tab A" in conflict.inner_text()
    for layout in each_layout(tab_b):
        screenshot(tab_b, f"snippet-conflict-{layout}.png")
    tab_b.click("text=Take the saved version")
    tab_b.locator(f"#snippet-{snippet.pk} .conflict").wait_for(state="detached")
    assert tab_b.locator(f"#id_s{snippet.pk}-text").input_value() == "words from tab A"
