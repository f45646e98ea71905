"""What a reader sees when a note's Markdown is rendered."""

import json
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from notes.models import NoteLink
from notes.rendering import (
    code_css,
    extract_wikilinks,
    highlight_code,
    mark_missing_wikilinks,
    render_equation,
    render_markdown,
)
from tests.browser import chromium  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parents[2] / "shared/data/notes-corpus.json"


class Element:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children, self.text = tag, dict(attrs), parent, [], ""

    @property
    def classes(self):
        return (self.attrs.get("class") or "").split()

    def text_content(self):
        return self.text + "".join(child.text_content() + child.tail for child in self.children)


class Tree(HTMLParser):
    """The rendered HTML as a browser would nest it (enough of it for these tests)."""

    VOID = {"br", "hr", "img", "input"}

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.root = Element("root", {}, None)
        self.root.tail = ""
        self.current, self.elements = self.root, []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        element = Element(tag, attrs, self.current)
        element.tail = ""
        self.current.children.append(element)
        self.elements.append(element)
        if tag not in self.VOID:
            self.current = element

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        if self.current.children:
            self.current.children[-1].tail += data
        else:
            self.current.text += data

    def find_all(self, tag, cls=None):
        return [e for e in self.elements if e.tag == tag and (cls is None or cls in e.classes)]

    def find(self, tag, cls=None):
        found = self.find_all(tag, cls)
        assert found, f"no <{tag} class={cls}> in the rendered HTML"
        return found[0]


def parse(html):
    return Tree(html)


# ---------------------------------------------------------------- GitHub-flavoured Markdown


def test_headings_get_slug_ids_for_in_page_links():
    tree = parse(render_markdown("# Results and Ablations\n\n## Results and Ablations\n\n[jump](#results-and-ablations)"))
    assert [h.attrs["id"] for h in tree.find_all("h1") + tree.find_all("h2")] == [
        "results-and-ablations", "results-and-ablations-1",
    ]
    assert tree.find("a").attrs["href"] == "#results-and-ablations"


def test_task_list_items_show_disabled_checkboxes_ticked_when_done():
    tree = parse(render_markdown("- [ ] rerun baseline\n- [x] fix seed\n"))
    boxes = tree.find_all("input")
    assert [b.attrs.get("type") for b in boxes] == ["checkbox", "checkbox"]
    assert all("disabled" in b.attrs for b in boxes)
    assert ["checked" in b.attrs for b in boxes] == [False, True]
    assert "fix seed" in tree.find_all("li")[1].text_content()


def test_tables_render_with_header_cells_and_alignment_without_style():
    html = render_markdown("| model | acc |\n|:--|--:|\n| ViT | 81.2 |\n")
    tree = parse(html)
    assert [th.text_content() for th in tree.find_all("th")] == ["model", "acc"]
    assert [td.text_content() for td in tree.find_all("td")] == ["ViT", "81.2"]
    assert tree.find_all("td")[1].attrs["align"] == "right"
    assert "style=" not in html


def test_strikethrough_blockquote_and_lists():
    tree = parse(render_markdown("~~wrong~~\n\n> quoted\n\n1. one\n2. two\n"))
    assert tree.find("s").text_content() == "wrong"
    assert "quoted" in tree.find("blockquote").text_content()
    assert [li.text_content() for li in tree.find("ol").children] == ["one", "two"]


def test_bare_urls_become_links_without_trailing_punctuation():
    tree = parse(render_markdown("See https://arxiv.org/abs/2106.09685. And www.example.org too."))
    assert [a.attrs["href"] for a in tree.find_all("a")] == [
        "https://arxiv.org/abs/2106.09685", "http://www.example.org",
    ]


def test_external_links_get_rel_internal_links_do_not():
    tree = parse(render_markdown("[paper](https://arxiv.org/abs/1) [other note](/notes/3/) [[Wiki]]"))
    external, internal, wiki = tree.find_all("a")
    assert external.attrs["rel"] == "noopener noreferrer nofollow"
    assert "rel" not in internal.attrs and "rel" not in wiki.attrs


def test_images_by_http_url_are_shown_and_other_schemes_dropped():
    tree = parse(render_markdown("![fig](https://example.org/fig.png) ![bad](data:image/png;base64,AAAA)"))
    good, bad = tree.find_all("img")
    assert good.attrs["src"] == "https://example.org/fig.png" and good.attrs["alt"] == "fig"
    assert "src" not in bad.attrs


def test_footnotes_link_to_their_text_and_back():
    tree = parse(render_markdown("Claim[^src].\n\n[^src]: Table 2 of the paper.\n"))
    ref = tree.find("sup", "footnote-ref").children[0]
    item = tree.find("li", "footnote-item")
    assert ref.attrs["href"] == f"#{item.attrs['id']}"
    assert "Table 2 of the paper." in item.text_content()
    assert tree.find("a", "footnote-backref").attrs["href"] == f"#{ref.attrs['id']}"


def test_raw_html_that_is_safe_is_kept():
    tree = parse(render_markdown("H<sub>2</sub>O, <kbd>Ctrl</kbd>\n\n<details><summary>More</summary>\n\nhidden\n\n</details>"))
    assert tree.find("sub").text_content() == "2"
    assert tree.find("kbd").text_content() == "Ctrl"
    assert tree.find("summary").text_content() == "More"


# ---------------------------------------------------------------- code


def test_fenced_python_is_highlighted_with_class_spans():
    html = render_markdown("```python\ndef f(x):\n    return x < 1\n```\n")
    tree = parse(html)
    pre = tree.find("pre", "highlight")
    code = pre.children[0]
    assert code.tag == "code" and code.classes == ["language-python"]
    assert any(s.classes == ["k"] and s.text_content() == "def" for s in tree.find_all("span"))
    assert code.text_content() == "def f(x):\n    return x < 1\n"


@pytest.mark.parametrize("info", ["", "no-such-language", "python {title=x}", "c++", '"><b>'])
def test_unknown_or_absent_language_renders_plain_code_unchanged(info):
    source = "if a < b && c > d:\n    print('<b>not bold</b>')\n"
    tree = parse(render_markdown(f"```{info}\n{source}```\n"))
    assert tree.find("pre", "highlight").text_content() == source
    assert not tree.find_all("b")


def test_code_spans_and_fences_keep_markdown_and_html_literally():
    tree = parse(render_markdown("`<script>x</script> [[Not a link]] $x$`"))
    assert tree.find("code").text_content() == "<script>x</script> [[Not a link]] $x$"
    assert not tree.find_all("script") and not tree.find_all("a") and not tree.find_all("span")


def test_highlight_code_snippet_matches_fenced_block():
    assert highlight_code("x = 1\n", "python") == render_markdown("```python\nx = 1\n```").strip()
    assert parse(highlight_code("<b>", "")).find("pre", "highlight").text_content() == "<b>"


def test_code_css_is_the_generated_stylesheet_for_the_highlight_classes():
    css = (ROOT / "static/css/code.css").read_text()
    assert css == code_css()
    assert "pre.highlight .k {" in css and "pre.highlight {" in css


def test_code_is_highlighted_in_dark_colours_on_a_dark_page_toggled_or_from_the_system():
    css = code_css()
    light_keyword = re.search(r"^pre\.highlight \.k \{ color: (#\w+)", css, re.M).group(1)
    for dark in (":root[data-theme=dark] pre.highlight", ":root:not([data-theme=light]) pre.highlight"):
        box = re.search(rf"^{re.escape(dark)} {{ background: (#\w+)", css, re.M).group(1)
        keyword = re.search(rf"^{re.escape(dark)} \.k {{ color: (#\w+)", css, re.M).group(1)
        assert box.lower() == "#0d1117" and keyword.lower() != light_keyword.lower()
    assert css.index("@media (prefers-color-scheme: dark)") < css.index(":root:not([data-theme=light]) pre.highlight")


# ---------------------------------------------------------------- math


def test_inline_and_display_math_keep_the_tex_for_katex():
    tree = parse(render_markdown("Loss $\\mathcal{L} < \\epsilon$ holds.\n\n$$\n\\frac{a}{b} & c\n$$\n"))
    inline = tree.find("span", "math-inline")
    display = tree.find("div", "math-display")
    assert "math" in inline.classes and inline.text_content() == "\\mathcal{L} < \\epsilon"
    assert "math" in display.classes and display.text_content() == "\\frac{a}{b} & c"


def test_double_dollars_inside_a_paragraph_are_display_math_in_the_paragraph():
    tree = parse(render_markdown("so $$E = mc^2$$ follows"))
    math = tree.find("span", "math-display")
    assert math.text_content() == "E = mc^2" and math.parent.tag == "p"


def test_prices_in_dollars_are_not_math():
    tree = parse(render_markdown("It cost $5 and $6 per hour; budget $ 100 $ total."))
    assert not tree.find_all("span") and not tree.find_all("div")
    assert tree.find("p").text_content() == "It cost $5 and $6 per hour; budget $ 100 $ total."


def test_render_equation_is_display_math_with_escaped_tex():
    tree = parse(render_equation("  a < b \\& c  "))
    assert tree.find("div", "math-display").text_content() == "a < b \\& c"


# ---------------------------------------------------------------- wiki-links


def test_wikilink_points_to_wiki_page_with_title_and_key():
    a = parse(render_markdown("see [[Attention  Is All\nYou Need]]")).find("a", "wikilink")
    assert a.attrs["href"] == "/notes/wiki/?title=Attention+Is+All+You+Need"
    assert a.attrs["data-wikilink"] == NoteLink.key_for("Attention Is All You Need")
    assert a.text_content() == "Attention Is All You Need"


def test_wikilink_with_label_shows_the_label():
    a = parse(render_markdown("[[Diffusion & Guidance|this note]]")).find("a", "wikilink")
    assert a.text_content() == "this note"
    assert a.attrs["href"] == "/notes/wiki/?title=Diffusion+%26+Guidance"
    assert a.attrs["data-wikilink"] == "diffusion & guidance"


def test_wikilinks_inside_code_are_not_links():
    text = "`[[Inline]]`\n\n```\n[[Fenced]]\n```\n\n    [[Indented]]\n\n[[Real]]"
    tree = parse(render_markdown(text))
    assert [a.text_content() for a in tree.find_all("a")] == ["Real"]
    assert extract_wikilinks(text) == ["Real"]


@pytest.mark.parametrize("text, kind, title, body", [
    ("> [!note] Callout\n> Guidance scale around 2 gives the best FID.", "note", "Callout", ["Guidance scale around 2 gives the best FID."]),
    ("> [!warning]- Folded *title*\n> text\n>\n> second", "warning", "Folded title", ["text", "second"]),
    ("> [!bug] A title alone", "caution", "A title alone", []),
    ("> [!hint]\n> Seed everything.", "tip", "Hint", ["Seed everything."]),
    ("> [!TIP]\n> GitHub's own", "tip", "Tip", ["GitHub's own"]),
    ("> [!anything-else] Odd kind\n> text", "note", "Odd kind", ["text"]),
])
def test_obsidian_callouts_render_as_alerts_with_their_title(text, kind, title, body):
    tree = parse(render_markdown(text))
    assert f"markdown-alert-{kind}" in tree.find("div", "markdown-alert").classes and not tree.find_all("blockquote")
    assert tree.find("p", "markdown-alert-title").text_content() == title
    assert [p.text_content() for p in tree.find_all("p") if "markdown-alert-title" not in p.classes] == body


def test_obsidian_comments_are_hidden_but_not_in_code():
    html = render_markdown("Shown %%hidden\nstill hidden%% shown again, 50%% stays.\n\n`%%time%%`\n\n```\n%%timeit\nf()\n```")
    text = parse(html).root.text_content()
    assert "hidden" not in text and "Shown  shown again, 50%% stays." in text
    assert "%%time%%" in text and "%%timeit" in text


def test_a_quote_that_only_mentions_a_callout_marker_stays_a_quote():
    tree = parse(render_markdown("> plain quote [!note] x\n\n`> [!note] in code`"))
    assert tree.find_all("blockquote") and not tree.find_all("div", "markdown-alert")


def test_an_embedded_vault_file_is_named_not_linked_and_an_embedded_note_is_a_link():
    """Obsidian's `![[grid.png]]` shows a file Lablog did not import: its name, not a link to a
    note called "attachments/grid.png" that does not exist; `![[Note]]` links to the note."""
    text = "Result ![[attachments/grid.png]] and ![[Diffusion basics]] and ![[paper.PDF|the pdf]]"
    tree = parse(render_markdown(text))
    assert [span.text_content() for span in tree.find_all("span", "embedded-file")] == ["attachments/grid.png", "paper.PDF"]
    assert [a.text_content() for a in tree.find_all("a", "wikilink")] == ["Diffusion basics"]
    assert "!" not in tree.find("p").text_content()
    assert extract_wikilinks(text) == ["Diffusion basics"]


def test_extract_wikilinks_normalises_whitespace_and_keeps_order():
    text = "[[B  note]] then [[A\tnote|alias]], a table | [[C]] |\n\n> [[D]]\n\n- [[E]]\n\n[^1]\n\n[^1]: [[F]]"
    assert extract_wikilinks(text) == ["B note", "A note", "C", "D", "E", "F"]
    assert extract_wikilinks("[[ ]] [[]] [[a|]] \\[[escaped]]") == ["a"]


def test_missing_wikilinks_are_marked_existing_ones_not():
    html = render_markdown('[[Known]] [[Unknown]] [[Odd & "Quoted"]]')
    marked = parse(mark_missing_wikilinks(html, {"known", 'odd & "quoted"'}))
    assert [("missing" in a.classes) for a in marked.find_all("a", "wikilink")] == [False, True, False]
    assert parse(mark_missing_wikilinks(html, set())).find_all("a", "missing")[0].text_content() == "Known"


def test_sync_links_stores_rendered_wikilinks(db, user):
    from notes.models import Note

    note = Note.objects.create_note(user, title="Hub", body="[[Alpha]] `[[Code]]` [[beta|B]]")
    assert sorted(note.outgoing_links.values_list("target_key", flat=True)) == ["alpha", "beta"]


# ---------------------------------------------------------------- run artifacts


def test_run_artifact_links_and_images_point_to_the_run():
    tree = parse(render_markdown("[log](run:42/train.log) ![grid](run:42/plots/grid.png) [run](run:42)"))
    log, artifact_link, run = tree.find_all("a")
    assert log.attrs["href"] == "/runs/42/artifacts/train.log"
    assert artifact_link.classes == ["run-artifact"] and artifact_link.attrs["href"] == "/runs/42/"
    assert artifact_link.children[0].attrs["src"] == "/runs/42/artifacts/plots/grid.png"
    assert run.attrs["href"] == "/runs/42/"


def test_run_image_inside_a_link_is_not_wrapped_again_and_bad_run_urls_are_dropped():
    tree = parse(render_markdown("[![a](run:7/a.png)](https://x.org) ![b](run:7/../../admin) [c](run:x/y)"))
    assert [a.attrs.get("href") for a in tree.find_all("a")] == ["https://x.org", None]
    images = tree.find_all("img")
    assert images[0].attrs["src"] == "/runs/7/artifacts/a.png" and "src" not in images[1].attrs


# ---------------------------------------------------------------- the corpus


def corpus():
    return json.loads(CORPUS.read_text())


def test_every_corpus_note_renders():
    notes = corpus()
    assert len(notes) == 235
    for note in notes:
        html = render_markdown(note["body"])
        assert html.strip() or not note["body"].strip(), note["title"]


def test_largest_corpus_note_renders_well_under_100ms():
    body = max((note["body"] for note in corpus()), key=len)
    render_markdown(body)
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        render_markdown(body)
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.1, f"{len(body)} characters took {min(timings) * 1000:.0f} ms"


# ---------------------------------------------------------------- KaTeX in the browser

MATH_PAGE = """<!doctype html><html><head><meta charset="utf-8"></head><body>{body}
<div id="swap"></div></body></html>"""


@pytest.mark.browser
def test_math_js_typesets_once_on_load_and_after_htmx_swaps(chromium):
    # The shared session browser: a second Playwright in the same process would clash with its event loop.
    body = render_markdown(
        "Inline $a^2 < b$ here.\n\n$$\n\\sum_i x_i\n$$\n\nbad $\\frac{$ ok $\\href{javascript:alert(1)}{click}$"
    )
    page = chromium.new_page()
    try:
        page.set_content(MATH_PAGE.format(body=body))
        page.add_script_tag(path=str(ROOT / "static/vendor/katex/katex.min.js"))
        page.add_script_tag(path=str(ROOT / "static/js/math.js"))
        page.evaluate("document.dispatchEvent(new Event('DOMContentLoaded'))")
        assert page.locator(".math-inline .katex").count() == 2
        assert page.locator(".math-display .katex-display").count() == 1
        assert page.locator(".math .katex").count() == 3
        # KaTeX runs untrusted: \\href in a note does not become a link.
        assert page.locator(".math a").count() == 0
        # Broken TeX shows KaTeX's error text in place instead of stopping the rest.
        assert page.locator(".math .katex-error").count() == 1
        # A fragment swapped in by htmx gets typeset; the math already done is not touched again.
        page.evaluate(
            """html => { document.getElementById('swap').innerHTML = html;
                         document.body.dispatchEvent(new CustomEvent('htmx:afterSettle', {bubbles: true})); }""",
            render_markdown("$c$"),
        )
        assert page.locator(".math .katex").count() == 4
        # Typesetting twice would read KaTeX's own output back as TeX.
        assert page.locator(".math-inline annotation").first.text_content() == "a^2 < b"
    finally:
        page.close()
