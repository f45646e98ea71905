"""A plain-text research log: an introduction and a table of contents, then entries,
each starting at a paper reference line (`Paper - …`, `Paper: [2305.01625] …`,
`[2305.01625] Title`, an arxiv.org abs/pdf URL). Each entry becomes a note linked
to the Paper its reference names (created, or matched by arXiv id), its text kept line
for line (plain_text) and titled readably (log_titles) when its first line is a bare link."""

import re
from collections import Counter

from notes import arxiv

from exchange.importers import log_titles, plain_text
from exchange.importers.base import Item, has_placeholder_title, key, upsert_note, upsert_paper

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


def _body_lines(text: str) -> list[str]:
    """The log's lines after its table of contents."""
    lines = text.split("\n")
    first_ref = next((i for i, line in enumerate(lines) if is_reference(line)), len(lines))
    return lines[_toc_end(lines[:first_ref]):]


def table_of_contents(text: str) -> list[str]:
    """The table of contents' titles (the heading-like lines just before the first entry)."""
    lines = text.split("\n")
    first_ref = next((i for i, line in enumerate(lines) if is_reference(line)), len(lines))
    end = _toc_end(lines[:first_ref])
    toc = []
    for line in reversed(lines[:end]):
        text = line.strip()
        if not text or len(text) > _TOC_MAX_LENGTH or text.endswith((".", ":")):
            break
        toc.append(text)
    toc.reverse()
    # The introduction's contact lines look like headings too: an address, or a link inside a sentence.
    contact = [i for i, t in enumerate(toc[:5]) if "@" in t or ("://" in t and len(t.split()) > 3)]
    toc = toc[max(contact) + 1:] if contact else toc
    # A bare link under a title (the model a section is about) names no section.
    return [title for title in toc if not re.fullmatch(r"https?://\S+", title)]


def split_entries(text: str) -> list[tuple[str, str]]:
    """(reference or first line, body) of each entry, in file order."""
    entries, heading, body = [], None, []

    def close():
        if heading is not None:
            entries.append((heading, "\n".join(body).strip() or heading))

    for line in _body_lines(text):
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
    entries = split_entries(text)
    named = log_titles.named_papers(text)
    toc = table_of_contents(text)
    titles = log_titles.entry_titles(toc, entries, named)
    toc_titles = set(toc)
    seen = Counter()
    referenced = set()  # arXiv ids an earlier entry cites: that entry reports the paper
    result = []
    for (heading, body), titled in zip(entries, titles):
        title = titled.title
        seen[heading] += 1
        source_key = key("log", heading, str(seen[heading]))
        arxiv_id = arxiv.find(heading) if is_reference(heading) else None
        # What names the paper: its title on the reference line, anywhere else in the log,
        # else the table of contents' title for its entry.
        paper_name = paper_title(heading) or named.get(arxiv_id, "") or (title if title in toc_titles else "")
        # The reference line stays in the note when the title no longer shows it.
        text = body if title == heading or body == heading else f"{heading}\n{body}"
        first_reference = arxiv_id not in referenced
        referenced.add(arxiv_id)
        result.append(Item(
            label=heading[:120],
            save=_saver(title, plain_text.to_markdown(text), source_key, arxiv_id, paper_name, titled.candidates,
                        first_reference),
        ))
    return result


def _saver(title: str, body: str, source_key: str, arxiv_id: str | None, paper_name: str,
           candidates: tuple[str, ...], first_reference: bool):
    """`first_reference`: no earlier entry cites this paper. A later one only links its note to
    the paper the earlier one made or updated, so the report does not count it updated again
    (a first import of the log would say "9 papers updated")."""
    def save(ctx):
        saved = []
        paper = None
        if arxiv_id:
            paper, created = upsert_paper(
                ctx, source_key=key("arxiv", arxiv_id), arxiv_id=arxiv_id, title=paper_name, fill_only=True,
                url=f"https://arxiv.org/abs/{arxiv_id}",
            )
            if created or first_reference:  # created: the first entry's item failed
                saved.append(("papers", created))
        note, created = upsert_note(ctx, source_key=source_key, title=title, body=body, paper=paper)
        saved.append(("notes", created))
        _report_unnamed(ctx, note, paper, candidates)
        return saved

    return save


def _report_unnamed(ctx, note, paper, candidates: tuple[str, ...]) -> None:
    """Say which notes and papers no name was found for, so the user can name them, with the
    table of contents' titles its section may have: a guessed title would be worse (see log_titles)."""
    unnamed = []
    if log_titles.is_bare(note.title):
        unnamed.append("titled by its link (no words of its own, and no table-of-contents title matched it with confidence)")
    if paper is not None and has_placeholder_title(paper):
        unnamed.append(f"its paper is left as “{paper.title}” (nothing in the log names it with confidence)")
    if unnamed:
        hint = " Its place in the table of contents is among the titles below." if candidates else ""
        ctx.report.notice(note.title, "; ".join(unnamed) + "." + hint + " Rename it on its page if you know the title.",
                          url=note.get_absolute_url(), note=note.pk, choices=candidates)
