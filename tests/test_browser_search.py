"""In Chromium: type in the search box, see live results, Enter for the results page, click a hit,
land on the note scrolled to the passage."""

import re

import pytest

from notes.models import Note
from search.indexing import index_note
from tests.browser import *  # noqa: F401,F403

def filler(where: str) -> str:
    return "\n\n".join(f"{where} paragraph {n}: the lab notebook records the weather, the coffee and the pump noise." for n in range(30))


BODY = f"# Setup\n\n{filler('Before')}\n\n## Calibration\n\nThe trap stiffness was calibrated from the power spectrum of the bead's Brownian motion.\n\n{filler('After')}"


@pytest.mark.browser
def test_type_see_live_results_enter_click_lands_on_the_passage(logged_in_page, user, live_server):
    page = logged_in_page
    note = Note.objects.create_note(user, title="Optical tweezers", body=BODY)
    other = Note.objects.create_note(user, title="Sourdough", body="Feed the starter with rye flour.")
    for n in (note, other):
        assert index_note(n.pk) == "indexed"

    page.goto(live_server.url + "/")
    box = page.locator(".searchbox input[type=search]")
    box.click()
    box.press_sequentially("trap stiffness", delay=40)
    live_hit = page.locator("#search-dropdown a.hit-title", has_text="Optical tweezers")
    live_hit.wait_for()
    assert page.locator("#search-dropdown mark", has_text="stiffness").count() >= 1
    assert page.locator("#search-dropdown a.hit-title").first.inner_text() == "Optical tweezers"
    with page.expect_response(lambda r: "/search/?" in r.url and "q=trap" in r.url and "mode=keyword" in r.url):
        page.get_by_label("Words").check()  # switching mode searches again
    page.locator("#search-dropdown a.hit-title", has_text="Optical tweezers").wait_for()
    page.get_by_label("Hybrid").check()
    box.focus()

    box.press("Enter")
    page.wait_for_url(re.compile(r"/search/\?q=trap\+stiffness&mode=hybrid"))
    assert page.locator("h1").inner_text() == "Search"
    hit = page.locator("#search-results a.hit-title", has_text="Optical tweezers")
    hit.click()

    page.wait_for_url(re.compile(rf"/notes/{note.pk}/#p-\d+$"))
    highlighted = page.locator(".note-body .search-hit-passage")
    highlighted.first.wait_for()
    texts = highlighted.all_inner_texts()
    assert "trap stiffness was calibrated" in " ".join(texts[:2])  # the passage starts at its section
    assert "Before paragraph" not in " ".join(texts)
    box_in_view = page.locator(".note-body p", has_text="trap stiffness").bounding_box()
    assert 0 <= box_in_view["y"] <= 900  # scrolled to it, far below the fold


@pytest.mark.browser
def test_index_status_with_a_waiting_re_index_fits_phone_and_laptop(logged_in_page, user, live_server):
    from datetime import timedelta

    from django.utils import timezone

    from search.models import UserIndexState

    note = Note.objects.create_note(user, title="Optical tweezers", body=BODY)
    index_note(note.pk)
    UserIndexState.objects.filter(user=user).update(
        reindex_state="running", reindex_step="note", reindex_total=40, reindex_done=12,
        reindex_moved=timezone.now() - timedelta(minutes=4))
    page = logged_in_page
    for layout in each_layout(page):
        page.goto(live_server.url + "/search/status/")
        waiting = page.locator("#reindex-progress p.muted")
        assert "it goes on by itself" in waiting.inner_text()
        assert waiting.is_visible()
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        screenshot(page, f"index-status-waiting-{layout}.png")


@pytest.mark.browser
def test_results_with_tags_dates_and_a_papers_notes_fit_phone_and_laptop(logged_in_page, user, live_server):
    from notes.models import Paper
    from search.indexing import index_paper

    paper = Paper.objects.create(user=user, title="Classifier-Free Diffusion Guidance",
                                 abstract="Guidance without a classifier: mix conditional and unconditional scores.")
    index_paper(paper.pk)
    for title, body, tags in [
        ("Guidance scale sweep", "Classifier-free guidance at scale 7.5 trades diversity for fidelity.", ["diffusion", "a&b"]),
        ("Reading notes", "Guidance mixes the conditional and unconditional scores.", ["reading"]),
    ]:
        note = Note.objects.create_note(user, title=title, body=body, tags=tags, paper=paper)
        index_note(note.pk)
    page = logged_in_page
    for layout in each_layout(page):
        page.goto(live_server.url + "/search/?q=classifier-free+guidance")
        hit = page.locator("ol.hits > li.hit").first
        assert hit.locator("> a.hit-title").inner_text() == "Classifier-Free Diffusion Guidance"
        beneath = hit.locator("ul.hit-notes > li")
        assert beneath.count() == 2
        assert "#a&b" in beneath.locator("a.tag").all_inner_texts()
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", hit.locator("> p.hit-meta time").inner_text())
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        screenshot(page, f"search-results-tags-{layout}.png")
    page.locator("a.tag", has_text="#a&b").first.click()
    page.wait_for_url(re.compile(r"tag=a%26b"))
    assert page.locator("ol.hits a.hit-title").all_inner_texts() == ["Guidance scale sweep"]
