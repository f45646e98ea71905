"""The note page as a lab notebook, in Chromium: charts with their points, the run and compare
pages, phone and laptop widths in light and dark mode, no sideways scrolling, no console errors,
no Content-Security-Policy violation; the theme toggle, the phone menu, task-list ticks."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from notes.models import Note, Revision
from tests.browser import LAYOUTS, browser_context, chromium, log_in, logged_in_page, page  # noqa: F401
from tests.lab_fixtures import lab_note
from workers.models import Run

pytestmark = pytest.mark.browser

# Screenshots of every page, width and mode go here when set (for looking at them).
SHOTS = os.environ.get("LABLOG_SHOTS_DIR")

# Collects what the browser reports: console errors, uncaught exceptions, CSP violations.
WATCH = """
window.__problems = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__problems.push("CSP " + e.violatedDirective + " " + e.blockedURI);
});
"""


def watch(page):
    problems = []
    page.on("console", lambda msg: msg.type == "error" and problems.append(f"console: {msg.text}"))
    page.on("pageerror", lambda error: problems.append(f"error: {error}"))
    page.add_init_script(WATCH)
    return problems


def reported(page, problems):
    return problems + page.evaluate("window.__problems || []")


@pytest.fixture
def lab(user):
    return lab_note(user)


def overflow(page) -> int:
    """How many pixels the page is wider than the window (0: nothing scrolls sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_main_pages_fit_the_screen_in_light_and_dark_with_no_errors_or_csp_violations(chromium, live_server, user, lab):  # noqa: F811
    note, runs = lab
    pages = {
        "note": note.get_absolute_url(),
        "run": runs[0].get_absolute_url(),
        "compare": "/runs/compare/?" + "&".join(f"runs={r.pk}" for r in runs),
        "search": "/search/?q=guidance&mode=keyword",
        "log": "/",
        "runs": "/runs/",
        "editor": f"/notes/{note.pk}/edit/",
        "papers": "/papers/",
        "paper": f"/papers/{note.paper_id}/",
        "index": "/search/status/",
        "import": "/exchange/import/",
    }
    failures = []
    for scheme in ("light", "dark"):
        for width_name, viewport in LAYOUTS.items():
            context = chromium.new_context(base_url=live_server.url, viewport=viewport, color_scheme=scheme)
            context.set_default_timeout(10_000)
            log_in(context, live_server.url, user)
            page = context.new_page()  # noqa: F811
            problems = watch(page)
            for name, url in pages.items():
                page.goto(url)
                page.wait_for_load_state("networkidle")
                if name == "note":
                    expect(page.locator(".note-body .katex").first).to_be_visible()  # KaTeX ran under the CSP
                    expect(page.locator("#runnables .chart").first).to_be_visible()
                wider = overflow(page)
                if wider > 0:
                    failures.append(f"{name} at {width_name}/{scheme} scrolls sideways by {wider}px")
                background = page.evaluate("getComputedStyle(document.body).backgroundColor")
                dark = sum(int(c) for c in background[background.index("(") + 1:-1].split(",")[:3]) < 3 * 80
                if dark != (scheme == "dark"):
                    failures.append(f"{name} at {width_name}/{scheme}: background {background}")
                if SHOTS:
                    # Lazy images load as a reader scrolls; a full-page screenshot does not scroll.
                    page.evaluate("document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')")
                    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)")
                    Path(SHOTS).mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=f"{SHOTS}/{name}-{viewport['width']}-{scheme}.png", full_page=True)
            failures += [f"{scheme}/{width_name}: {p}" for p in reported(page, problems)]
            context.close()
    assert not failures, "\n".join(failures)


def test_the_run_chart_shows_each_guidance_scale_with_its_value_on_hover_and_a_table(logged_in_page, lab):
    note, runs = lab
    newest = runs[-1]  # the newest run's results are open on the note; older ones are folded
    page = logged_in_page
    page.goto(note.get_absolute_url())
    card = page.locator(f"#run-{newest.pk}")
    accuracy = card.locator('.chart[data-metric="accuracy"]')
    expect(accuracy.locator(".point")).to_have_count(4)
    expect(accuracy.locator("figcaption")).to_contain_text("Accuracy")
    expect(accuracy.locator("svg .axis-label")).to_have_text("guidance scale w")
    point = accuracy.locator('.point[data-x="4"]')
    value = point.locator("text.value")
    assert float(value.evaluate("el => getComputedStyle(el).opacity")) == 0
    point.locator("circle").hover()
    expect(value).to_have_text(str(newest.metrics["accuracy"]["4"]).rstrip("0").rstrip(".") or "0")
    page.wait_for_function("el => getComputedStyle(el).opacity === '1'", arg=value.element_handle())
    # Keyboard: Tab reaches the points, and focus shows the value too.
    other = accuracy.locator('.point[data-x="1"]')
    other.focus()
    page.wait_for_function("el => getComputedStyle(el).opacity === '1'", arg=other.locator("text.value").element_handle())
    expect(accuracy.locator(".chart-table tbody tr")).to_have_count(4)
    # Captions say what the image shows; a click opens it full size.
    expect(card.locator(".artifacts figcaption").first).to_have_text("w = 0 · 4 samples per class")
    expect(card.locator(".status-line")).to_contain_text("on CPU: worker cpu@lab has no GPU")
    older = page.locator(f"#run-{runs[0].pk} details.run-results")
    expect(older).not_to_have_attribute("open", "")
    older.locator("summary").click()
    expect(older.locator('.chart[data-metric="accuracy"] .point')).to_have_count(4)


def test_a_running_sweep_chart_grows_as_each_scale_finishes(logged_in_page, lab):
    note, runs = lab
    run = Run.objects.create(runnable=runs[0].runnable, params=runs[0].params)
    assert run.claim("live", "cpu@lab")
    run.record("live", metrics={"accuracy": {"0": 0.1}}, device="cpu")
    page = logged_in_page
    page.goto(note.get_absolute_url())
    chart = page.locator(f'#run-{run.pk} .chart[data-metric="accuracy"]')
    expect(chart.locator(".point")).to_have_count(1)
    run.record("live", metrics={"accuracy": {"0": 0.1, "1": 0.8}})
    expect(chart.locator(".point")).to_have_count(2, timeout=5000)  # the card polls every second
    run.finish("live", Run.SUCCEEDED, metrics={"accuracy": {"0": 0.1, "1": 0.8, "4": 1.0}})
    expect(chart.locator(".point")).to_have_count(3, timeout=5000)


def test_compare_overlays_every_run_in_one_chart_named_by_what_differs(logged_in_page, lab):
    note, runs = lab
    page = logged_in_page
    page.goto("/runs/compare/?" + "&".join(f"runs={r.pk}" for r in runs))
    chart = page.locator('.compare-charts .chart[data-metric="accuracy"]')
    expect(chart.locator(".series")).to_have_count(3)
    expect(chart.locator(".legend li")).to_have_text([f"Run {r.pk} seed={r.params['seed']}" for r in runs])
    # Every w = 4 grid in one row, captioned by run and scale.
    row = page.locator(".image-row").filter(has=page.locator('img[src$="grid_w4.png"]'))
    expect(row.locator("img")).to_have_count(3)
    expect(row.locator("figcaption").first).to_contain_text("w = 4 · 4 samples per class")


def test_dark_mode_toggle_sticks_across_pages(logged_in_page, lab):
    page = logged_in_page
    page.emulate_media(color_scheme="light")
    page.goto("/")
    assert page.evaluate("document.documentElement.dataset.theme || ''") == ""
    page.locator("[data-theme-toggle]").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.goto("/papers/")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    body = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert body == "rgb(18, 21, 26)", body
    page.locator("[data-theme-toggle]").click()
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == "light"


def test_on_a_phone_the_header_collapses_to_a_menu(logged_in_page, lab):
    page = logged_in_page
    page.set_viewport_size(LAYOUTS["phone"])
    page.goto("/")
    expect(page.locator(".mainnav")).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("link", name="Papers", exact=True)).to_be_visible()
    page.get_by_role("link", name="Papers", exact=True).click()
    expect(page.locator("h1")).to_contain_text("Papers")
    page.set_viewport_size(LAYOUTS["wide"])
    expect(page.locator(".mainnav")).to_be_visible()
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()


def test_ticking_a_task_saves_the_note_as_a_revision_and_a_stale_page_is_refused(logged_in_page, lab, user):
    note, _ = lab
    page = logged_in_page
    page.goto(note.get_absolute_url())
    boxes = page.locator(".note-body input.task-list-item-checkbox")
    expect(boxes).to_have_count(3)
    boxes.nth(1).check()
    expect(page.locator(".task-state")).to_contain_text(f"version {note.version + 1}")
    saved = Note.objects.get(pk=note.pk)
    assert "- [x] sweep w from 0 to 8" in saved.body and saved.version == note.version + 1
    assert Revision.objects.filter(note=note, version=note.version).exists()
    # Another tab saves meanwhile: this page's next tick is refused and the box shows what is stored.
    saved.apply_edit(base_version=saved.version, title=saved.title, body=saved.body + "\nmore")
    boxes.nth(2).click()
    expect(page.locator(".task-state")).to_contain_text("changed elsewhere")
    expect(boxes.nth(2)).not_to_be_checked()
    assert "- [ ] compare seeds" in Note.objects.get(pk=note.pk).body


def test_the_search_page_starts_results_on_the_first_screen_with_a_paper_type_ahead(logged_in_page, lab):
    note, _ = lab
    page = logged_in_page
    page.goto("/search/?q=guidance&mode=keyword")
    first = page.locator(".search-results .hit").first
    expect(first).to_be_visible()
    assert first.bounding_box()["y"] < 600
    # "Words" (the last mode) and the "In" legend are apart.
    words = page.locator(".filter-row label", has_text="Words").bounding_box()
    legend = page.locator(".filter-row legend", has_text="In").bounding_box()
    assert legend["x"] - (words["x"] + words["width"]) >= 12 or legend["y"] > words["y"] + 5
    page.locator(".more-filters summary").click()
    paper = page.locator("#id_paper")
    paper.fill("Classifier")
    expect(page.locator("#paper-suggestions option")).to_have_count(1)
    assert page.locator("#paper-suggestions option").get_attribute("value") == "Classifier-Free Diffusion Guidance"
    paper.fill("Classifier-Free Diffusion Guidance")
    paper.press("Enter")
    expect(page).to_have_url(re.compile(r"paper=Classifier-Free"))
    expect(page.locator(".search-results .hit-title")).to_have_text(["CFG sweep on digits"])


def test_a_snippet_hit_lands_below_the_sticky_header(logged_in_page, lab):
    note, _ = lab
    snippet = note.snippets.first()
    page = logged_in_page
    page.set_viewport_size({"width": 1366, "height": 500})
    page.goto(f"{note.get_absolute_url()}#snippet-{snippet.pk}")
    page.wait_for_timeout(300)
    header = page.locator(".topbar").bounding_box()
    box = page.locator(f"#snippet-{snippet.pk}").bounding_box()
    assert box["y"] >= header["y"] + header["height"], (box, header)


def test_the_editor_preview_renders_math_through_htmx_under_the_csp(logged_in_page, user):
    note = Note.objects.create_note(user, title="Math", body="start")
    page = logged_in_page
    problems = watch(page)
    page.goto(f"/notes/{note.pk}/edit/")
    page.fill("#id_body", "Euler: $e^{i\\pi} + 1 = 0$")
    expect(page.locator("#preview .katex")).to_be_visible()
    expect(page.locator("#save-state")).to_have_attribute("data-state", "saved", timeout=8000)
    # The header's search dropdown (htmx) and its mode switch (moved from hx-on to search.js).
    page.locator(".searchbox input[type=search]").fill("Math")
    page.locator(".search-modes label", has_text="Words").click()
    expect(page.locator("#search-dropdown")).not_to_be_empty()
    assert reported(page, problems) == []
