"""Nothing a note, snippet or wiki-link contains can run script or restyle the page.

Every vector goes through every rendering entry point, and the output is checked as a browser
would see it: the parsed elements and attributes, not substrings.
"""

import re
from html.parser import HTMLParser

import pytest

from notes.rendering import highlight_code, mark_missing_wikilinks, render_equation, render_markdown

FORBIDDEN_TAGS = {
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "style", "base", "meta", "form",
    "link", "svg", "math", "noscript", "template", "button", "textarea", "select", "video", "audio", "source",
    "body", "html", "head", "title", "xmp", "isindex", "plaintext",
}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "srcset", "poster", "background", "cite", "data", "xlink:href"}
SAFE_SCHEMES = {"http", "https", "mailto"}
# Browsers drop leading C0 controls and spaces, and tabs and newlines anywhere, before reading a scheme.
URL_IGNORED = re.compile(r"^[\x00-\x20]+|[\t\n\r]")
SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")

TAB, NUL = "\t", "\x01"
VECTORS = [
    # raw script, and attempts to rebuild it around the filter
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//xss.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<<script>script>alert(1)//<</script>/script>",
    # event handlers
    "<img src=x onerror=alert(1)>",
    '<img src="x" ONERROR="alert(1)">',
    '<a href="https://ok.example" onclick="alert(1)">x</a>',
    "<input onfocus=alert(1) autofocus>",
    "<body onload=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<details open ontoggle=alert(1)><summary>x</summary></details>",
    # SVG and MathML
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    '<math href="javascript:alert(1)">CLICKME</math>',
    # mutation XSS (DOMPurify bypass history)
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
    '<!--<img src=x onerror=alert(1)>-->',
    "<xmp><img src=x onerror=alert(1)></xmp>",
    # embedding and navigation
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<form action="javascript:alert(1)"><button>go</button></form>',
    '<button formaction="javascript:alert(1)">x</button>',
    '<isindex action="javascript:alert(1)" type=image>',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    '<table background="javascript:alert(1)"><tr><td>x</td></tr></table>',
    '<img srcset="javascript:alert(1) 1x">',
    # CSS
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    '<div style="position:fixed;inset:0;z-index:9">fake login</div>',
    '<img src="https://ok.example/x.png" style="width:100%">',
    # javascript: links with obfuscation
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="&#x6A;avascript&#x3A;alert(1)">x</a>',
    '<a href="javascript&colon;alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    f'<a href="java{TAB}script:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="java&NewLine;script:alert(1)">x</a>',
    f'<a href="{NUL}javascript:alert(1)">x</a>',
    # other schemes
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    '<a href="data:image/svg+xml,<svg onload=alert(1)>">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="run:1/x">raw run link</a>',
    # Markdown links, images and autolinks
    "[x](javascript:alert(1))",
    "[x](JAVASCRIPT:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x](java&#x09;script:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](vbscript:msgbox(1))",
    "![x](javascript:alert(1))",
    "![x](data:text/html;base64,PHNjcmlwdD4=)",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    '![x](https://ok.example/a.png "title\\" onerror=\\"alert(1)")',
    "<javascript:alert(1)>",
    '<https://ok.example/"onmouseover="alert(1)>',
    "[x][ref]\n\n[ref]: javascript:alert(1)",
    "[x][ref]\n\n[ref]: data:text/html;base64,PHNjcmlwdD4=",
    '![x](run:1/"onerror="alert(1))',
    "[x](run:1/javascript:alert(1))",
    # wiki-links
    "[[<script>alert(1)</script>]]",
    "[[x|<img src=x onerror=alert(1)>]]",
    '[[" onmouseover="alert(1)]]',
    "[[javascript:alert(1)]]",
    '<a href="javascript:alert(1)" class="wikilink" data-wikilink="x">spoofed wiki-link</a>',
    # math
    "$</span><script>alert(1)</script>$",
    "$$\n</div><script>alert(1)</script>\n$$",
    "so $$</span><img src=x onerror=alert(1)>$$ here",
    "$\\href{javascript:alert(1)}{click}$",
    # code
    '```"><script>alert(1)</script>\nx\n```',
    "```python onload=alert(1)\nx\n```",
    "```\n</code></pre><script>alert(1)</script>\n```",
    "`</code><script>alert(1)</script>`",
    # tables
    "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
    '| <script>alert(1)</script> | <a href="javascript:alert(1)">x</a> |\n|---|---|\n| b | c |',
    # htmx attributes would make the page issue requests with the user's CSRF header
    '<div hx-get="/notes/1/delete/" hx-trigger="load">x</div>',
    '<div data-hx-post="/notes/1/delete/" data-hx-trigger="load">x</div>',
    '<a hx-on:click="alert(1)">x</a>',
    '<img src=x hx-on::load="alert(1)">',
]


class Elements(HTMLParser):
    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.found = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))

    handle_startendtag = handle_starttag


def assert_safe(html):
    elements = Elements(html).found
    for tag, attrs in elements:
        assert tag not in FORBIDDEN_TAGS, f"<{tag}> in {html!r}"
        for name, value in attrs:
            assert not name.startswith("on"), f"{name} on <{tag}> in {html!r}"
            assert name != "style", f"style on <{tag}> in {html!r}"
            assert not name.startswith(("hx-", "data-hx-")), f"{name} on <{tag}> in {html!r}"
            assert name not in {"srcdoc", "formaction", "action", "xlink:href", "srcset"}, f"{name} in {html!r}"
            if name in URL_ATTRIBUTES:
                scheme = SCHEME.match(URL_IGNORED.sub("", value or ""))
                assert not scheme or scheme.group(1).lower() in SAFE_SCHEMES, f"{name}={value!r} in {html!r}"


@pytest.mark.parametrize("vector", VECTORS)
def test_markdown_output_is_safe(vector):
    assert_safe(render_markdown(vector))


@pytest.mark.parametrize("vector", VECTORS)
def test_markdown_inside_blocks_is_safe(vector):
    for text in (f"> {vector}", f"- {vector}", f"# {vector}", f"text[^1]\n\n[^1]: {vector}", f"**{vector}**"):
        assert_safe(render_markdown(text))


@pytest.mark.parametrize("vector", VECTORS)
def test_equation_snippet_is_safe_and_keeps_the_text(vector):
    html = render_equation(vector)
    assert_safe(html)
    assert [tag for tag, _ in Elements(html).found] == ["div"]


@pytest.mark.parametrize("vector", VECTORS)
def test_code_snippet_is_safe_as_code_and_as_language(vector):
    as_code = highlight_code(vector, "html")
    assert_safe(as_code)
    assert_safe(highlight_code(vector, ""))
    assert_safe(highlight_code("print(1)\n", vector))
    assert {tag for tag, _ in Elements(as_code).found} <= {"pre", "code", "span"}


@pytest.mark.parametrize("vector", VECTORS)
def test_marking_missing_wikilinks_keeps_output_safe(vector):
    html = render_markdown(f"[[{vector}]] [[{vector}|{vector}]]\n\n{vector}")
    assert_safe(mark_missing_wikilinks(html, set()))
    assert_safe(mark_missing_wikilinks(html, {vector, vector.casefold()}))


def test_vector_list_is_long_enough_to_mean_something():
    assert len(set(VECTORS)) >= 40


def test_script_text_is_dropped_not_shown():
    html = render_markdown("before <script>alert('stolen')</script> after")
    assert "alert" not in html and "before" in html and "after" in html


def test_checker_catches_what_it_claims_to():
    # The assertions above would pass on empty output; these show they fail on unsafe HTML.
    for unsafe in (
        "<script>x</script>", '<img src=x onerror="x">', '<a href="java\tscript:x">', '<p style="x">',
        '<a href="\x01javascript:x">', '<div hx-get="/x">', "<svg>", '<a href="data:text/html,x">',
    ):
        with pytest.raises(AssertionError):
            assert_safe(unsafe)
