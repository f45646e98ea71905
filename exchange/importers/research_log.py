"""A plain-text research log: an introduction and a table of contents, then entries,
each starting at a paper reference line (`Paper - …`, `Paper: [2305.01625] …`,
`[2305.01625] Title`, an arxiv.org abs/pdf URL). Each entry becomes a note linked
to the Paper its reference names (created, or matched by arXiv id)."""

import re
from collections import Counter

from notes import arxiv

from exchange.importers.base import Item, key, upsert_note, upsert_paper

_ID = r"(?:\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?"
REFERENCE = re.compile(
    rf"^(?:Paper\s*[-:]|\[{_ID}\]|https?://(?:[\w-]+\.)*arxiv\.org/(?:abs|pdf)/)", re.IGNORECASE
)
_BRACKETED = re.compile(rf"\[{_ID}\]\s*(?P<title>.+)$")
# Table-of-contents lines are short headings, not sentences.
_TOC_MIN_LINES = 5
_TOC_MAX_LENGTH = 100


def is_reference(line: str) -> bool:
    return bool(REFERENCE.match(line.strip()))


def _toc_end(lines: list[str]) -> int:
    """Index just past the table of contents (0 when there is none): the longest run of
    heading-like lines before the first entry."""
    best_start, best_end, start = 0, 0, None
    for i, line in enumerate(lines + ["."]):
        text = line.strip()
        heading = text and len(text) <= _TOC_MAX_LENGTH and not text.endswith((".", ":")) and not is_reference(text)
        if heading and start is None:
            start = i
        elif not heading and start is not None:
            if i - start > best_end - best_start:
                best_start, best_end = start, i
            start = None
        if is_reference(text):
            break
    return best_end if best_end - best_start >= _TOC_MIN_LINES else 0


def split_entries(text: str) -> list[tuple[str, str]]:
    """(reference or first line, body) of each entry, in file order."""
    lines = text.split("\n")
    first_ref = next((i for i, line in enumerate(lines) if is_reference(line)), len(lines))
    lines = lines[_toc_end(lines[:first_ref]):]
    entries, heading, body = [], None, []

    def close():
        if heading is not None:
            entries.append((heading, "\n".join(body).strip() or heading))

    for line in lines:
        if is_reference(line):
            close()
            heading, body = line.strip(), []
        elif heading is None and line.strip():
            heading, body = line.strip(), []
        elif heading is not None:
            body.append(line.rstrip())
    close()
    return entries


def paper_title(reference: str) -> str:
    """`[2305.01625] Unlimiformer: … - my comment` -> `Unlimiformer: …` (only bracketed ids carry a title)."""
    match = _BRACKETED.search(reference)
    return match.group("title").split(" - ")[0].strip() if match else ""


def items(text: str, name: str) -> list[Item]:
    seen = Counter()
    result = []
    for heading, body in split_entries(text):
        seen[heading] += 1
        source_key = key("log", heading, str(seen[heading]))
        result.append(Item(label=heading[:120], save=_saver(heading, body, source_key)))
    return result


def _saver(heading: str, body: str, source_key: str):
    def save(ctx):
        saved = []
        paper = None
        arxiv_id = arxiv.find(heading) if is_reference(heading) else None
        if arxiv_id:
            paper, created = upsert_paper(
                ctx, source_key=key("arxiv", arxiv_id), arxiv_id=arxiv_id, title=paper_title(heading), fill_only=True,
                url=f"https://arxiv.org/abs/{arxiv_id}",
            )
            saved.append(("papers", created))
        _, created = upsert_note(ctx, source_key=source_key, title=heading, body=body, paper=paper)
        saved.append(("notes", created))
        return saved

    return save
