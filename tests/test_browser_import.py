"""Importing the four shared data files through the Import page in Chromium, with a real worker."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from notes.models import Note, Paper
from tests.browser import OUTPUT_DIR, browser_context, chromium, each_layout, logged_in_page, page, screenshot  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.worker]

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
EXPECTED = [  # file, notes created, papers created
    ("research-log.txt", 143, 122),
    ("daily-papers-1.txt", 0, 72),
    ("daily-papers-2.txt", 0, 16),
    ("blog-feed.txt", 4, 0),
]


def import_through_the_page(page, path: Path) -> None:
    page.goto("/exchange/import/")
    page.set_input_files("input[type=file]", str(path))
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-progress")).to_have_attribute("data-status", "done", timeout=120_000)


def test_each_data_file_imports_through_the_web_page(celery_worker, logged_in_page, user):
    if not DATA.exists():
        pytest.skip(f"{DATA} is not on this machine")
    celery_worker(queues=["default"])
    page = logged_in_page
    for name, notes, papers in EXPECTED:
        import_through_the_page(page, DATA / name)
        report = page.locator(".import-report tr.created")
        expect(report.locator('[data-kind="notes"]')).to_have_text(str(notes))
        expect(report.locator('[data-kind="papers"]')).to_have_text(str(papers))
        expect(page.locator(".import-failed")).to_have_count(0)
    screenshot(page, "import-report.png")
    assert Paper.objects.filter(user=user).exclude(abstract="").count() == 72 + 16
    assert Note.objects.filter(user=user).exclude(paper=None).count() == 131
    assert Note.objects.filter(user=user).count() == 143 + 4
    # Importing a file again updates what it made instead of duplicating it.
    import_through_the_page(page, DATA / "blog-feed.txt")
    expect(page.locator('.import-report tr.updated [data-kind="notes"]')).to_have_text("4")
    assert Note.objects.filter(user=user).count() == 147


def test_a_title_offered_in_the_report_is_taken_in_one_click(logged_in_page, user):
    """ColPali's entry is the bare link alone: the report offers its section's possible titles."""
    from exchange import services
    from exchange.models import ImportJob

    if not DATA.exists():
        pytest.skip(f"{DATA} is not on this machine")
    job = ImportJob.objects.create(user=user, filename="research-log.txt", payload=(DATA / "research-log.txt").read_bytes())
    services.run_import_job(job.pk)
    page = logged_in_page
    page.goto(ImportJob.objects.get(pk=job.pk).get_absolute_url())
    report = ImportJob.objects.get(pk=job.pk).report
    # Said as what they are, not as a count of notes beside the table of notes imported.
    expect(page.locator(".import-notices summary")).to_have_text(f"{len(report['notices'])} things to check")
    page.locator(".import-notices summary").click()
    colpali = "ColPali - Multimodal RAG made simpler and faster"
    note_url = Note.objects.get(user=user, paper__arxiv_id="2407.01449").get_absolute_url()
    notice = page.locator(".import-notices li").filter(has=page.locator(f'a[href="{note_url}"]'))
    expect(notice.get_by_role("button", name=f"Use “{colpali}”")).to_have_count(1)
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            notice.scroll_into_view_if_needed()
            OUTPUT_DIR.mkdir(exist_ok=True)  # the visible part: the whole report is very long
            page.screenshot(path=str(OUTPUT_DIR / f"import-title-choices-{width}-{scheme}.png"))
    notice.get_by_role("button", name=f"Use “{colpali}”").click()
    expect(notice).to_contain_text(f"Titled “{colpali}”")
    assert Note.objects.get(user=user, paper__arxiv_id="2407.01449").title == colpali
    assert Paper.objects.get(user=user, arxiv_id="2407.01449").title == colpali


def test_a_zotero_csl_json_export_imports_through_the_page_naming_its_bad_item(celery_worker, logged_in_page, user, tmp_path):
    from tests.test_import_csl_json import CSL

    celery_worker(queues=["default"])
    page = logged_in_page
    library = tmp_path / "My Library.json"
    library.write_bytes(CSL)
    import_through_the_page(page, library)
    expect(page.locator('.import-report tr.created [data-kind="papers"]')).to_have_text("3")
    expect(page.locator(".import-failed")).to_contain_text("the reference has no title")
    for layout in each_layout(page):
        page.reload()
        screenshot(page, f"import-csl-json-report-{layout}.png")
    assert Paper.objects.get(user=user, arxiv_id="2207.12598").authors == "Jonathan Ho\nTim Salimans"
