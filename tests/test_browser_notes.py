"""The notes flows in a real browser (Debian's Chromium through Playwright)."""

import re
import time

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from notes.models import Note, Paper, Revision, Snippet
from search.indexing import index_note
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


def test_a_new_note_autosaves_and_the_url_shown_then_reloads_its_text(logged_in_page, user):
    page = logged_in_page
    page.goto("/notes/new/")
    expect(page.locator("#save-state")).to_have_attribute("data-state", "clean")
    page.click("#id_body")
    page.keyboard.type("Idea for tomorrow\nablate the warmup")
    expect(page.locator("#save-state")).to_have_attribute("data-state", "dirty")
    expect(page.locator("#save-state")).to_have_attribute("data-state", "saved", timeout=8000)
    note = Note.objects.get(user=user)
    expect(page).to_have_url(re.compile(rf"/notes/{note.pk}/edit/$"))
    expect(page.locator("h1")).to_contain_text("Editing Idea for tomorrow")
    expect(page).to_have_title("Edit Idea for tomorrow · Lablog")
    expect(page.locator("#editor")).to_have_attribute("hx-post", f"/notes/{note.pk}/edit/")
    expect(page.locator("#editor-actions button")).to_have_text("Save")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "editor-phone.png")
    page.set_viewport_size({"width": 1280, "height": 900})
    # Typing on goes on as edits of the same note, with the same save state.
    page.keyboard.type(", then the schedule")
    expect(page.locator("#save-state")).to_contain_text("version 2", timeout=8000)
    page.reload()
    expect(page.locator("#id_body")).to_have_value("Idea for tomorrow\nablate the warmup, then the schedule")
    assert Note.objects.filter(user=user).count() == 1


def test_save_clicked_while_a_new_note_autosaves_makes_one_note(logged_in_page, user):
    page = logged_in_page
    page.goto("/notes/new/")
    page.fill("#id_body", "raced text")
    page.wait_for_timeout(1150)  # the autosave is about to leave
    page.dblclick("text=Create note")
    expect(page.locator(".note-body")).to_contain_text("raced text")
    assert list(Note.objects.filter(user=user).values_list("body", flat=True)) == ["raced text"]


def test_save_clicked_while_the_first_autosave_is_in_flight_goes_to_the_note(logged_in_page, user, monkeypatch):
    manager = type(Note.objects)
    create_note = manager.create_note
    calls = []

    def slow_first_create(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            time.sleep(1.5)  # the first autosave is still on its way when Save is clicked
        return create_note(self, *args, **kwargs)

    monkeypatch.setattr(manager, "create_note", slow_first_create)
    page = logged_in_page
    page.goto("/notes/new/")
    page.fill("#id_body", "raced text")
    expect(page.locator("#save-state")).to_have_attribute("data-state", "saving", timeout=5000)
    page.click("text=Create note")
    expect(page.locator(".note-body")).to_contain_text("raced text")
    assert list(Note.objects.filter(user=user).values_list("body", flat=True)) == ["raced text"]


def test_a_body_far_over_the_size_limit_gets_a_clear_message_and_the_text_stays(logged_in_page, user):
    note = Note.objects.create_note(user, title="Big", body="small")
    page = logged_in_page
    page.goto(f"/notes/{note.pk}/edit/")
    huge = "x" * 6_000_000  # over Django's request size cap too, so only the editor can explain it
    page.fill("#id_body", huge)
    expect(page.locator("#save-state")).to_contain_text("too long to save: 6,000,000 bytes", timeout=8000)
    page.keyboard.press("Control+s")
    expect(page.locator("#save-state")).to_have_attribute("data-state", "error")
    assert page.locator("#id_body").evaluate("el => el.value.length") == 6_000_000
    assert Note.objects.get(pk=note.pk).body == "small"


def test_typing_while_a_save_is_in_flight_shows_not_saved_then_saves_the_rest(logged_in_page, user):
    import time

    note = Note.objects.create_note(user, title="Slow", body="start")
    page = logged_in_page
    slowed = []

    def slow_first_save(route):
        if route.request.method == "POST" and not slowed:
            slowed.append(route.request.post_data)
            time.sleep(0.6)  # the server is slow to answer the first save
        route.continue_()

    page.route(f"**/notes/{note.pk}/edit/", slow_first_save)
    page.goto(f"/notes/{note.pk}/edit/")
    page.click("#id_body")
    page.keyboard.press("End")
    page.keyboard.type(" one")
    expect(page.locator("#save-state")).to_have_attribute("data-state", "saving", timeout=5000)
    with page.expect_response(lambda response: response.request.method == "POST" and "/edit/" in response.url):
        page.keyboard.type(" two")  # while the first save is on its way
    # The answer to the first save must not claim the newer text is saved (the next autosave is ~1 s away).
    page.wait_for_timeout(200)
    assert page.locator("#save-state").get_attribute("data-state") == "dirty"
    expect(page.locator("#save-state")).to_contain_text("version 3", timeout=8000)
    assert Note.objects.get(pk=note.pk).body == "start one two"


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


def test_double_clicked_buttons_add_one_snippet_and_one_paper(logged_in_page, user):
    note = Note.objects.create_note(user, title="Reading", body="notes")
    page = logged_in_page
    page.goto(note.get_absolute_url())
    page.click(".snippet-add summary")
    page.fill("#id_text", "quoted once")
    page.dblclick("text=Add snippet")
    expect(page.locator(".snippet-quote")).to_have_count(1)
    page.wait_for_load_state("networkidle")
    assert Snippet.objects.filter(note=note).count() == 1
    page.goto("/papers/new/")
    page.fill("#id_title", "Attention is all you need")
    # Two clicks a moment apart, the second while the first request is already on its way.
    page.evaluate("""() => { const button = document.querySelector("form.stacked button[type=submit]");
                             button.click(); setTimeout(() => button.click(), 30); }""")
    expect(page.locator("h1")).to_have_text("Attention is all you need")
    page.wait_for_load_state("networkidle")
    assert Paper.objects.filter(user=user).count() == 1


def test_pasting_an_arxiv_pdf_link_fills_the_bare_id_and_warns_about_a_duplicate(logged_in_page, user):
    existing = Paper.objects.create(user=user, title="HuggingGPT", arxiv_id="2303.17580")
    page = logged_in_page
    page.goto("/papers/new/")
    page.fill("#id_arxiv_id", "https://arxiv.org/pdf/2401.00001v2.pdf")
    page.dispatch_event("#id_arxiv_id", "paste")
    expect(page.locator("#id_arxiv_id")).to_have_value("2401.00001")
    # The field was swapped for the server's answer: let htmx finish settling it (its
    # `change from:` listener is bound then) before the user's next edit.
    page.wait_for_load_state("networkidle")
    expect(page.locator("#arxiv-field.htmx-settling, #arxiv-field.htmx-swapping")).to_have_count(0)
    page.wait_for_function("() => !document.querySelector('#arxiv-field').classList.contains('htmx-added')")
    page.fill("#id_arxiv_id", "arxiv.org/abs/2303.17580v1")
    page.dispatch_event("#id_arxiv_id", "change")
    warning = page.locator("#arxiv-field .error")
    expect(warning).to_contain_text("You already have this paper")
    expect(warning.locator("a")).to_have_attribute("href", existing.get_absolute_url())


def test_every_notes_page_fits_a_phone_screen_without_sideways_scrolling(logged_in_page, user):
    paper = Paper.objects.create(
        user=user, title="Classifier-Free Diffusion Guidance", year=2022, arxiv_id="2207.12598",
        authors="Jonathan Ho, Tim Salimans", url="https://arxiv.org/abs/2207.12598v1-with-a-very-long-url-that-must-wrap",
    )
    note = Note.objects.create_note(user, title="Guidance", body=CODE_AND_MATH + "\n" + "x" * 300, tags=["cfg"], paper=paper)
    note.apply_edit(base_version=1, title="Guidance", body=CODE_AND_MATH)
    Snippet.objects.create(note=note, kind="code", language="python", text="print('" + "y" * 200 + "')")
    # A related note with a long title (its "Link as [[…]]" button) and an unbroken link in the passage shown.
    related = Note.objects.create_note(
        user, title="Sweeping the guidance scale of classifier-free diffusion sampling, results so far",
        body="Raising the classifier-free guidance scale w trades sample diversity for fidelity, FID is best near w = 2: "
             "https://github.com/" + "guidance-sweeps" * 8 + "/results",
    )
    for pk in (note.pk, related.pk):
        index_note(pk)
    titled_by_link = Note.objects.create_note(user, title="https://arxiv.org/pdf/2312.00785.pdf", body="A bare link.")
    page = logged_in_page
    page.set_viewport_size({"width": 390, "height": 844})
    pages = {
        "log": "/", "note": note.get_absolute_url(), "editor": f"/notes/{note.pk}/edit/", "new-note": "/notes/new/",
        "papers": "/papers/", "paper": paper.get_absolute_url(), "paper-form": "/papers/new/",
        "revisions": f"/notes/{note.pk}/revisions/", "revision": f"/notes/{note.pk}/revisions/1/",
        "note-titled-by-its-link": titled_by_link.get_absolute_url(),
    }
    for name, url in pages.items():
        page.goto(url)
        page.wait_for_load_state("networkidle")
        if name == "note":
            expect(page.locator(".related-note")).to_have_count(1)
        screenshot(page, f"phone-{name}.png")
        sideways = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert sideways <= 0, f"{name} scrolls {sideways}px sideways on a phone"


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
    Note.objects.create_note(user, title="About vision", body="", tags=["vision", "rl"])
    page = logged_in_page
    page.goto("/")
    expect(page.locator(".entry")).to_have_count(2)
    page.evaluate("window.stillTheSamePage = true")
    page.select_option("select[name=tag]", "vision")
    expect(page.locator(".entry")).to_have_count(1)
    expect(page.locator(".entry")).to_contain_text("About vision")
    expect(page).to_have_url(re.compile(r"tag=vision"))
    expect(page.locator(".tag-cloud .tag.active")).to_contain_text("#vision")
    screenshot(page, "log-filtered.png")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "log-phone.png")
    page.set_viewport_size({"width": 1280, "height": 900})
    # The cloud and the tags on entries filter in place too, and the tag select follows.
    page.click(".tag-cloud >> text=#rl")
    expect(page.locator(".entry")).to_have_count(2)
    expect(page.locator(".tag-cloud .tag.active")).to_contain_text("#rl")
    expect(page.locator("select[name=tag]")).to_have_value("rl")
    expect(page).to_have_url(re.compile(r"tag=rl"))
    page.fill(".filters input[name=q]", "vision")
    expect(page.locator(".entry")).to_have_count(1)
    page.click(".entry .tag >> text=#vision")
    expect(page).to_have_url(re.compile(r"/\?q=vision&tag=vision$"))
    expect(page.locator("select[name=tag]")).to_have_value("vision")
    page.click(".tag-cloud .tag.active")  # clicking the active tag clears it
    expect(page.locator("select[name=tag]")).to_have_value("")
    expect(page).not_to_have_url(re.compile(r"tag="))
    assert page.evaluate("window.stillTheSamePage") is True
    # The URL shown is a bookmark of the filtered log.
    page.goto("/?tag=vision")
    expect(page.locator(".entry")).to_have_count(1)
    expect(page.locator(".tag-cloud .tag.active")).to_contain_text("#vision")


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
