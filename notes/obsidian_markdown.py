"""Obsidian's Markdown beyond GitHub's, for notes written in a vault:
- callouts (`> [!tip] My title`, `> [!bug]- Folded`) as the alerts GitHub's `> [!TIP]`
  already gives (markdown-it knows GitHub's five kinds only, each alone on its line): a core
  rule between block and inline parsing, so the title and the rest are parsed as text;
- `%%comments%%`, which Obsidian shows only while editing: an inline rule, so code keeps them.
"""

import re

from markdown_it.token import Token

_CALLOUT = re.compile(r"\[!([A-Za-z][\w-]*)\][+-]?[ \t]*(.*)")
# Obsidian's kinds (and their aliases) drawn as the nearest of GitHub's; any other kind is a note.
_KINDS = {
    "tip": "tip", "hint": "tip", "success": "tip", "check": "tip", "done": "tip",
    "important": "important",
    "warning": "warning", "caution": "warning", "attention": "warning",
    "danger": "caution", "error": "caution", "bug": "caution", "failure": "caution", "fail": "caution",
    "missing": "caution",
}


def _closing(tokens: list[Token], start: int) -> int:
    level = tokens[start].level
    return next(i for i in range(start + 1, len(tokens))
                if tokens[i].type == "blockquote_close" and tokens[i].level == level)


def callouts_rule(state) -> None:
    """Each quote whose first line is `[!kind] title` becomes an alert: the title its own
    paragraph, the rest of the quote its body."""
    tokens = state.tokens
    i = 0
    while i < len(tokens):
        opening = tokens[i]
        match = None
        if opening.type == "blockquote_open" and i + 2 < len(tokens) and tokens[i + 1].type == "paragraph_open":
            match = _CALLOUT.fullmatch(tokens[i + 2].content.split("\n", 1)[0].strip())
        if not match:
            i += 1
            continue
        kind = _KINDS.get(match.group(1).lower(), "note")
        closing = tokens[_closing(tokens, i)]
        opening.type, opening.tag, closing.type, closing.tag = "alert_open", "div", "alert_close", "div"
        opening.attrs = {"class": f"markdown-alert markdown-alert-{kind}"}
        title = Token("inline", "", 0, content=match.group(2) or match.group(1).capitalize(), children=[],
                      level=opening.level + 2)
        heading = [Token("alert_title_open", "p", 1, attrs={"class": "markdown-alert-title"}, level=opening.level + 1,
                         block=True),
                   title, Token("alert_title_close", "p", -1, level=opening.level + 1, block=True)]
        body = tokens[i + 2]
        rest = body.content.split("\n", 1)[1] if "\n" in body.content else ""
        if rest.strip():
            body.content = rest
            tokens[i + 1:i + 1] = heading
        else:  # the callout's first paragraph was its title line alone
            tokens[i + 1:i + 4] = heading
        i += 1


def comment_rule(state, silent: bool) -> bool:
    """`%%…%%` within a paragraph renders as nothing; a lone `%%` stays text."""
    if not state.src.startswith("%%", state.pos):
        return False
    end = state.src.find("%%", state.pos + 2)
    if end == -1:
        return False
    state.pos = end + 2
    return True
