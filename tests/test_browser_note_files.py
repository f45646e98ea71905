"""A Notion export uploaded on the Import page (a real worker imports it): its images load on the
note page in Chromium (under the page's CSP) and the page reads as it did in Notion, on a
desktop and a phone, light and dark."""

import base64
import io
import re
import zipfile

import pytest
from PIL import Image, ImageDraw

from playwright.sync_api import expect

from notes.models import Note
from tests.browser import browser_context, chromium, logged_in_page, page, screenshot  # noqa: F401
from tests.test_browser_import import import_through_the_page

pytestmark = [pytest.mark.browser, pytest.mark.worker]

PAGE_ID = "5f3c9a0e1d2b4c6a8e7f9b1c3d5e7f90"


def figure() -> bytes:
    """A 1200 px wide chart, wider than a phone: it must shrink to the column, not scroll."""
    image = Image.new("RGB", (1200, 500), "white")
    draw = ImageDraw.Draw(image)
    for i in range(12):
        draw.rectangle([40 + i * 95, 460 - i * 30, 110 + i * 95, 460], fill=(30, 90 + i * 12, 200))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def notion_export() -> bytes:
    page_text = (
        "# Reading: guidance sweeps\n\nCreated: March 4, 2024 3:12 PM\nTags: diffusion, guidance\nStatus: Done\n\n"
        "FID against guidance scale, from the sweep:\n\n"
        f"![FID by scale](Reading%20guidance%20sweeps%20{PAGE_ID}/fid%20by%20scale.png)\n\n"
        "Pasted: ![[Pasted image 20240304101500.png]]\n"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"Export/Reading guidance sweeps {PAGE_ID}.md", page_text)
        archive.writestr(f"Export/Reading guidance sweeps {PAGE_ID}/fid by scale.png", figure())
        archive.writestr("Export/Pasted image 20240304101500.png", figure())
    return buffer.getvalue()


def shoot_both_widths_and_schemes(page, name: str) -> None:
    """Screenshots at a desktop's and a phone's width, light and dark; neither scrolls sideways."""
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            screenshot(page, f"{name}-{width}-{scheme}.png")
            assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_an_imported_notes_images_load_on_its_page_and_fit_a_phone(celery_worker, logged_in_page, user, tmp_path):
    celery_worker(queues=["default"])
    export = tmp_path / "Export.zip"
    export.write_bytes(notion_export())
    page = logged_in_page
    page.goto("/exchange/import/")
    shoot_both_widths_and_schemes(page, "import-page")
    import_through_the_page(page, export)
    expect(page.locator('.import-report tr.created [data-kind="files"]')).to_have_text("2")
    shoot_both_widths_and_schemes(page, "import-report-files")
    note = Note.objects.get(user=user)
    page.goto(note.get_absolute_url())
    images = page.locator(".prose img")
    assert images.count() == 2
    # Loaded (not blocked by the CSP, not a broken link): the browser decoded their pixels.
    assert images.evaluate_all("imgs => imgs.map(i => i.complete && i.naturalWidth)") == [1200, 1200]
    assert page.locator("h1").inner_text() == "Reading: guidance sweeps"
    assert page.locator(".prose li").first.inner_text() == "Status: Done"
    shoot_both_widths_and_schemes(page, "note-files")
    assert images.evaluate_all("imgs => imgs.every(i => i.getBoundingClientRect().right <= innerWidth)")


PASTE = """([b64, name]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, { type: "image/png" }));
  const body = document.querySelector("textarea[name=body]");
  body.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
}"""


def test_an_image_pasted_into_the_editor_is_attached_written_and_shown(logged_in_page, user):
    note = Note.objects.create_note(user, title="Guidance sweep", body="Results: ")
    page = logged_in_page
    page.goto(f"/notes/{note.pk}/edit/")
    body = page.locator("textarea[name=body]")
    body.click()
    page.keyboard.press("Control+End")
    page.evaluate(PASTE, [base64.b64encode(figure()).decode(), "image.png"])
    expect(page.locator(".attach-state")).to_have_text(re.compile(r"^Attached Pasted image \d{14}\.png\.$"))
    expect(body).to_have_value(re.compile(r"^Results: !\[\[Pasted image \d{14}\.png\]\]$"))
    preview = page.locator("#preview img")
    expect(preview).to_have_count(1)
    for _ in range(50):  # the preview's image loads after its HTML (the CSP forbids wait_for_function)
        if preview.evaluate("i => i.complete && i.naturalWidth") == 1200:
            break
        page.wait_for_timeout(100)
    assert preview.evaluate("i => i.naturalWidth") == 1200
    expect(page.locator("#save-state")).to_have_attribute("data-state", "saved", timeout=10_000)
    note.refresh_from_db()
    name = note.attachments.get().name
    assert note.body == f"Results: ![[{name}]]"
    shoot_both_widths_and_schemes(page, "editor-pasted-image")
    page.goto(note.get_absolute_url())
    assert page.locator(".prose img").evaluate("i => i.naturalWidth") == 1200
    expect(page.locator("#files .file-list li")).to_have_count(1)
    page.locator("#files summary").click()  # the attach form open
    shoot_both_widths_and_schemes(page, "note-files-section")


def test_pasting_an_image_into_a_note_not_yet_saved_says_what_to_do(logged_in_page, user):
    page = logged_in_page
    page.goto("/notes/new/")
    page.evaluate(PASTE, [base64.b64encode(figure()).decode(), "chart.png"])
    expect(page.locator(".attach-state")).to_have_text(
        "Files can be attached once the note is saved: type a few words, then paste the image again.")
    assert page.locator("textarea[name=body]").input_value() == ""
