"""In Chromium: add a runnable on a note, run it on a real worker, watch it finish and see the image."""

import pytest

from notes.models import Note
from tests.browser import browser_context, chromium, logged_in_page  # noqa: F401


@pytest.fixture
def page(logged_in_page):  # noqa: F811
    return logged_in_page


@pytest.mark.browser
@pytest.mark.worker
def test_add_run_and_see_the_guidance_grid_inline(page, user, celery_worker, tmp_path):
    note = Note.objects.create_note(user, title="Guidance in the browser", body="Trying CFG.")
    celery_worker(queues=["gpu"], extra_env={"RUNS_CACHE_DIR": str(tmp_path)})
    page.goto(f"/notes/{note.pk}/")
    page.get_by_role("link", name="Add runnable").click()
    page.locator('a[data-kind="cfg_diffusion"]').click()
    form = page.locator("form.runnable-form")
    form.locator('input[name="diffusion_steps"]').fill("10")
    form.locator('input[name="training_iterations"]').fill("80")
    form.locator('input[name="guidance_scales"]').fill("0, 2")
    form.locator('input[name="samples_per_class"]').fill("2")
    form.get_by_role("button", name="Add and run").click()

    # The run card polls until the run ends, then shows its images inline, without a reload.
    status = page.locator(".run-card .run-status").first
    status.wait_for()
    grid = page.locator('.run-card img[src$="/artifacts/grid_w2.png"]')
    grid.wait_for(timeout=120_000)
    assert status.inner_text() == "succeeded"
    assert page.evaluate("img => img.complete && img.naturalWidth > 0", grid.element_handle())
    assert page.url.endswith(f"/notes/{note.pk}/")  # no navigation happened
