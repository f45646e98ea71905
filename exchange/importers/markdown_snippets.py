"""The `## Snippets` section of a markdown note, as Lablog's markdown export writes it
(`exporters.snippet_markdown`), read back into snippets.

Each snippet is a quote (`> ` lines, the last one `> — locator`), a fenced code block
(the info string is its language), a `$$` equation or a `<url> text` link; the
paragraphs after one are its comment. A section that does not read as exactly this
(text before the first snippet, a fence that never closes) is left in the body.
"""

import re

_SECTION = re.compile(r"^## Snippets[ \t]*\n", re.MULTILINE)
_NEXT_SECTION = re.compile(r"^## ")
_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})(?P<language>[^`\s]*)\s*$")
_LINK = re.compile(r"^<(?P<url>https?://[^>\s]+)>(?: (?P<text>.*))?$")
_LOCATOR_MARK = "— "


class NotSnippets(Exception):
    """The section holds something the export never writes there."""


def split_snippets(body: str) -> tuple[str, list[dict]]:
    """(the body without its `## Snippets` section, the snippets it lists, in order)."""
    matches = list(_SECTION.finditer(body))
    if not matches:
        return body, []
    # The export appends the section after the note's own text, so the last such heading is it.
    start = matches[-1]
    lines = body[start.end():].split("\n")
    try:
        snippets, used = _read_snippets(lines)
    except NotSnippets:
        return body, []
    rest = "\n".join(lines[used:])
    return (body[:start.start()].rstrip("\n") + ("\n\n" + rest if rest.strip() else "")).strip("\n"), snippets


def _read_snippets(lines: list[str]) -> tuple[list[dict], int]:
    """The snippets in `lines` up to the next `## ` heading, and how many lines they took."""
    snippets, comment, i = [], [], 0
    while i < len(lines) and not _NEXT_SECTION.match(lines[i]):
        snippet, after = _snippet_at(lines, i)
        if snippet is None:
            if lines[i].strip() and not snippets:
                raise NotSnippets
            comment.append(lines[i])
            i += 1
            continue
        _attach_comment(snippets, comment)
        snippets.append(snippet)
        comment, i = [], after
    _attach_comment(snippets, comment)
    return snippets, i


def _attach_comment(snippets: list[dict], lines: list[str]) -> None:
    if snippets:
        snippets[-1]["comment"] = "\n".join(lines).strip("\n")


def _snippet_at(lines: list[str], i: int) -> tuple[dict | None, int]:
    """The snippet starting at line i and the index after it, or (None, i) when none starts there."""
    line = lines[i]
    if fence := _FENCE.match(line):
        end = _closing(lines, i, fence["fence"])
        return _snippet("code", "\n".join(lines[i + 1:end]), language=fence["language"]), end + 1
    if line.strip() == "$$":
        end = _closing(lines, i, "$$")
        return _snippet("equation", "\n".join(lines[i + 1:end])), end + 1
    if link := _LINK.match(line):
        return _snippet("link", link["text"] or "", url=link["url"]), i + 1
    if line.startswith(">"):
        end = i
        while end < len(lines) and lines[end].startswith(">"):
            end += 1
        quoted = [q[2:] if q.startswith("> ") else q[1:] for q in lines[i:end]]
        locator = quoted.pop()[len(_LOCATOR_MARK):] if quoted[-1].startswith(_LOCATOR_MARK) else ""
        return _snippet("quote", "\n".join(quoted), locator=locator), end
    return None, i


def _closing(lines: list[str], i: int, fence: str) -> int:
    for end in range(i + 1, len(lines)):
        if lines[end].strip() == fence:
            return end
    raise NotSnippets


def _snippet(kind: str, text: str, **fields) -> dict:
    return {"kind": kind, "text": text, "locator": "", "language": "", "url": "", "comment": "", **fields}
