""""Edit and re-run" opens the runnable's own form page; "Save and run" there goes to the note
with the new run live, and a double click starts one run, not two."""

import re

import pytest

from notes.models import Note
from tests.browser import browser_context, chromium, logged_in_page  # noqa: F401
from workers.jobs import get_kind
from workers.models import Run, Runnable

pytestmark = pytest.mark.browser


@pytest.fixture
def page(logged_in_page):  # noqa: F811
    return logged_in_page


def test_save_and_run_from_the_standalone_form_goes_to_the_note_with_one_new_run(page, user):
    note = Note.objects.create_note(user, title="Guidance sweep")
    runnable = Runnable.objects.create(note=note, kind="cfg_diffusion", params=get_kind("cfg_diffusion").defaults())
    first = runnable.start_run()
    Run.objects.filter(pk=first.pk).update(status=Run.SUCCEEDED)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))

    page.goto(f"/runs/runnables/{runnable.pk}/?from_run={first.pk}")
    page.locator('input[name="guidance_scales"]').fill("0, 3")
    page.get_by_role("button", name="Save and run").dblclick()

    page.wait_for_url(re.compile(rf"/notes/{note.pk}/(#.*)?$"))
    new_runs = Run.objects.exclude(pk=first.pk)
    assert new_runs.count() == 1, "a double click started two runs"
    new = new_runs.get()
    assert new.params["guidance_scales"] == [0.0, 3.0]
    card = page.locator(f"#run-{new.pk}")
    card.wait_for()
    assert card.locator(".run-status").inner_text() == "queued"
    assert card.get_attribute("hx-trigger") == "every 1s"  # live: the card polls until the run ends
    page.wait_for_timeout(1500)  # a late second submit would land here
    assert Run.objects.count() == 2
    assert errors == []


def test_add_and_run_from_the_standalone_add_page_goes_to_the_note(page, user):
    from lablog.redis_clients import redis_client
    from workers.liveness import Heartbeat

    note = Note.objects.create_note(user, title="A new sweep")
    beat = Heartbeat("gpu0@lab", ["gpu", "gpu.cfg_diffusion"], kinds={"cfg_diffusion": {}})
    redis_client().set(beat.key, beat.payload, ex=60)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"/runs/notes/{note.pk}/runnables/add/")
        page.locator('a[data-kind="cfg_diffusion"]').click()
        page.get_by_role("button", name="Add and run").dblclick()
        page.wait_for_url(re.compile(rf"/notes/{note.pk}/(#.*)?$"))
    finally:
        redis_client().delete(beat.key)
    run = Run.objects.get()
    page.locator(f"#run-{run.pk}").wait_for()
    assert Runnable.objects.count() == 1 and errors == []
