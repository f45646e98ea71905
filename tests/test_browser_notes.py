"""The notes flows in a real browser (Debian's Chromium through Playwright)."""

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from notes.models import Note, Revision, Snippet
from tests.browser import browser_context, chromium, logged_in_page, page, screenshot  # noqa: F401

pytestmark = pytest.mark.browser

CODE_AND_MATH = """## Why the scale matters

The guided score is $\\tilde\\epsilon = (1+w)\\,\\epsilon(x, c) - w\\,\\epsilon(x)$ for a scale $w$.

$$\\nabla_x \\log p(x \\mid c) = \\nabla_x \\log p(x) + \\nabla_x \\log p(c \\mid x)$$

```python
def guided(eps_c, eps_u, w):
    return (1 + w) * eps_c - w * eps_u
```

| scale | FID |
|------:|----:|
| 1.0 | 12.4 |
| 3.0 | 9.8 |

- [x] reproduce the baseline
- [ ] sweep $w$ from 0 to 8, see [[Sampling schedule]]
"""


def test_sign_up_then_land_on_the_empty_log(page, live_server):
    page.goto("/accounts/signup/")
    page.fill("#id_username", "ada")
    page.fill("#id_password1", "a long passphrase 42")
    page.fill("#id_password2", "a long passphrase 42")
    screenshot(page, "signup.png")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Research log")
    assert get_user_model().objects.get(username="ada").is_staff


def test_writing_a_note_with_code_and_math_shows_highlighted_code_and_katex(logged_in_page, user):
    page = logged_in_page
    page.goto("/")
    page.keyboard.press("n")
    expect(page).to_have_url(re.compile(r"/notes/new/$"))
    page.fill("#id_title", "Classifier-free guidance scale")
    page.fill("#id_tags", "diffusion, cfg")
    page.fill("#id_body", CODE_AND_MATH)
    # The live preview already renders both.
    expect(page.locator("#preview .katex").first).to_be_visible()
    expect(page.locator("#preview .highlight .k").first).to_have_text("def")
    page.keyboard.press("Control+s")
    expect(page.locator(".note-head h1")).to_have_text("Classifier-free guidance scale")
    expect(page.locator(".note-body .highlight .k").first).to_have_text("def")
    expect(page.locator(".note-body .katex-display")).to_have_count(1)
    assert page.locator(".note-body .katex").count() >= 3
    assert Note.objects.get(user=user).tag_names() == ["cfg", "diffusion"]
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, "note-page.png")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "note-page-phone.png")


def test_autosave_then_reload_keeps_the_text(logged_in_page, user):
    note = Note.objects.create_note(user, title="Draft", body="start")
    page = logged_in_page
    page.goto(f"/notes/{note.pk}/edit/")
    page.click("#id_body")
    page.keyboard.press("End")
    page.keyboard.type(" and more typed text")
    expect(page.locator("#save-state")).to_have_attribute("data-state", "dirty")
    expect(page.locator("#save-state")).to_have_attribute("data-state", "saved", timeout=8000)
    expect(page.locator("#save-state")).to_contain_text("version 2")
    page.reload()
    expect(page.locator("#id_body")).to_have_value("start and more typed text")
    assert Note.objects.get(pk=note.pk).body == "start and more typed text"


def test_snippets_are_added_edited_and_deleted_inline_without_a_reload(logged_in_page, user):
    note = Note.objects.create_note(user, title="Reading", body="notes")
    page = logged_in_page
    page.goto(note.get_absolute_url())
    page.evaluate("window.stillTheSamePage = true")
    page.click(".snippet-add summary")
    page.select_option("#id_kind", "code")
    expect(page.locator("#id_locator")).to_be_hidden()
    page.fill("#id_text", "import torch\nx = torch.zeros(3)")
    page.fill("#id_language", "python")
    page.click("text=Add snippet")
    snippet = page.locator(".snippet-code")
    expect(snippet.locator(".highlight .kn").first).to_have_text("import")
    screenshot(page, "note-snippets.png")
    page.click(".snippet-code >> text=Edit")
    box = page.locator(".snippet.editing textarea[name$=text]")
    box.fill("import numpy as np")
    page.click("text=Save snippet")
    expect(page.locator(".snippet-code")).to_contain_text("numpy")
    assert Snippet.objects.get().text == "import numpy as np"
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(".snippet-code >> text=Delete")
    expect(page.locator(".snippet")).to_have_count(0)
    assert not Snippet.objects.exists()
    assert page.evaluate("window.stillTheSamePage") is True


def test_following_a_wiki_link_creates_the_note_and_it_shows_the_backlink(logged_in_page, user):
    source = Note.objects.create_note(user, title="Plan", body="Next: [[Sampling schedule]].")
    page = logged_in_page
    page.goto(source.get_absolute_url())
    page.click("a.wikilink.missing")
    expect(page.locator("#id_title")).to_have_value("Sampling schedule")
    page.fill("#id_body", "cosine vs linear")
    page.click("text=Create note")
    expect(page.locator(".note-head h1")).to_have_text("Sampling schedule")
    expect(page.locator(".backlinks")).to_contain_text("Plan")
    page.click(".backlinks >> text=Plan")
    expect(page.locator("a.wikilink")).not_to_have_class(re.compile("missing"))


def test_restoring_a_revision_from_its_diff(logged_in_page, user):
    note = Note.objects.create_note(user, title="Plan", body="old idea")
    note.apply_edit(base_version=1, title="Plan", body="new idea")
    page = logged_in_page
    page.goto(note.get_absolute_url())
    page.click("text=1 earlier version")
    page.click("text=Version 1")
    expect(page.locator(".diff .del")).to_contain_text("old idea")
    expect(page.locator(".diff .add")).to_contain_text("new idea")
    screenshot(page, "revision-diff.png")
    page.click("text=Restore version 1")
    expect(page.locator(".note-body")).to_contain_text("old idea")
    assert Note.objects.get(pk=note.pk).version == 3
    assert Revision.objects.filter(note=note).count() == 2


def test_two_tabs_the_later_save_gets_a_conflict_panel_and_keep_mine_saves_it(browser_context, logged_in_page, user):
    note = Note.objects.create_note(user, title="Shared", body="base")
    tab_a, tab_b = logged_in_page, browser_context.new_page()
    tab_a.goto(f"/notes/{note.pk}/edit/")
    tab_b.goto(f"/notes/{note.pk}/edit/")
    tab_a.fill("#id_body", "written in tab A")
    tab_a.click("button:has-text('Save')")
    expect(tab_a.locator("#save-state")).to_contain_text("version 2")
    tab_b.fill("#id_body", "written in tab B")
    tab_b.keyboard.press("Control+s")
    panel = tab_b.locator(".conflict")
    expect(panel).to_be_visible()
    expect(panel.locator("[data-side=yours]")).to_have_text("written in tab B")
    expect(panel.locator("[data-side=theirs]")).to_have_text("written in tab A")
    expect(tab_b.locator("#save-state")).to_have_attribute("data-state", "conflict")
    assert Note.objects.get(pk=note.pk).body == "written in tab A"
    expect(tab_b.locator("#id_body")).to_have_value("written in tab B")  # nothing typed is lost
    expect(tab_b.locator("#preview")).to_contain_text("written in tab B")
    screenshot(tab_b, "editor-conflict.png")
    tab_b.click("text=Keep mine")
    expect(tab_b.locator("#save-state")).to_contain_text("version 3")
    expect(tab_b.locator(".conflict")).to_have_count(0)
    note.refresh_from_db()
    assert (note.body, note.version) == ("written in tab B", 3)
    assert note.revisions.get(version=2).body == "written in tab A"


def test_take_theirs_replaces_the_editor_text_with_the_saved_version(browser_context, logged_in_page, user):
    note = Note.objects.create_note(user, title="Shared", body="base")
    tab_a, tab_b = logged_in_page, browser_context.new_page()
    tab_a.goto(f"/notes/{note.pk}/edit/")
    tab_b.goto(f"/notes/{note.pk}/edit/")
    tab_a.fill("#id_body", "A wins")
    tab_a.keyboard.press("Control+s")
    expect(tab_a.locator("#save-state")).to_contain_text("version 2")
    tab_b.fill("#id_body", "B loses")
    tab_b.keyboard.press("Control+s")
    tab_b.click("text=Take the saved version")
    expect(tab_b.locator("#id_body")).to_have_value("A wins")
    tab_b.fill("#id_body", "A wins, B adds")
    tab_b.keyboard.press("Control+s")
    expect(tab_b.locator("#save-state")).to_contain_text("version 3")
    assert Note.objects.get(pk=note.pk).body == "A wins, B adds"


def test_tag_filter_narrows_the_log_in_place(logged_in_page, user):
    Note.objects.create_note(user, title="About RL", body="", tags=["rl"])
    Note.objects.create_note(user, title="About vision", body="", tags=["vision"])
    page = logged_in_page
    page.goto("/")
    expect(page.locator(".entry")).to_have_count(2)
    page.evaluate("window.stillTheSamePage = true")
    page.select_option("select[name=tag]", "rl")
    expect(page.locator(".entry")).to_have_count(1)
    expect(page.locator(".entry")).to_contain_text("About RL")
    expect(page).to_have_url(re.compile(r"tag=rl"))
    assert page.evaluate("window.stillTheSamePage") is True
    screenshot(page, "log-filtered.png")
    page.click(".tag-cloud >> text=#vision")
    expect(page.locator(".entry")).to_have_count(1)
    expect(page.locator(".entry")).to_contain_text("About vision")


def test_keyboard_slash_focuses_search_and_question_mark_lists_shortcuts(logged_in_page, user):
    note = Note.objects.create_note(user, title="Keys", body="k")
    page = logged_in_page
    page.goto(note.get_absolute_url())
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("/")
    expect(page.locator("header input[type=search]")).to_be_focused()
    page.keyboard.type("e")  # typing in the box is not a shortcut
    expect(page).to_have_url(re.compile(rf"/notes/{note.pk}/$"))
    page.locator("header input[type=search]").blur()
    page.keyboard.press("e")
    expect(page).to_have_url(re.compile(rf"/notes/{note.pk}/edit/$"))


def test_dragging_a_snippet_by_its_handle_reorders_it(logged_in_page, user):
    note = Note.objects.create_note(user, title="Order", body="")
    for text in ("alpha", "beta", "gamma"):
        Snippet.objects.create(note=note, kind="quote", text=text)
    page = logged_in_page
    page.goto(note.get_absolute_url())
    page.locator("#snippets .snippet", has_text="gamma").locator(".drag-handle").drag_to(
        page.locator("#snippets .snippet", has_text="alpha"), target_position={"x": 10, "y": 5}
    )
    expect(page.locator("#snippets .snippet blockquote")).to_have_text(["gamma", "alpha", "beta"])
    page.wait_for_load_state("networkidle")
    assert [s.text for s in note.snippets.all()] == ["gamma", "alpha", "beta"]
