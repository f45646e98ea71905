"""Paper listing pages pasted as text (Hugging Face "Daily Papers" and the like):
a title line, then its abstract paragraph, then optionally `• 6 authors`, `·` and a
date. Page chrome (menus, "Subscribe", the listing's own date) has no abstract
after it, so it is never taken for a paper."""

import re
from datetime import date as date_type
from datetime import datetime

from exchange.importers.base import Item, key, upsert_paper
from notes.models import Paper

# An abstract is a long paragraph of prose; titles and page chrome are short.
ABSTRACT_MIN_CHARS = 150
TITLE_MAX_CHARS = 300
_AUTHORS = re.compile(r"^\s*•\s*(\d+)\s+authors?\s*$")
_DATE = re.compile(r"^\s*([A-Z][a-z]{2} \d{1,2}(?:, \d{4})?)(?:\s+\d+)?\s*$")


def is_abstract(line: str) -> bool:
    text = line.strip()
    return len(text) >= ABSTRACT_MIN_CHARS and len(text.split()) >= 20


def parse(text: str) -> list[dict]:
    lines = [line for line in text.split("\n") if line.strip()]
    papers = []
    for i, line in enumerate(lines):
        if i == 0 or not is_abstract(line):
            continue
        title = lines[i - 1].strip()
        if is_abstract(title) or len(title) > TITLE_MAX_CHARS or _AUTHORS.match(title) or title == "·":
            continue
        paper = {"title": title, "abstract": line.strip(), "author_count": None, "date": ""}
        tail = lines[i + 1:i + 4]
        if tail and (m := _AUTHORS.match(tail[0])):
            paper["author_count"] = int(m.group(1))
            tail = tail[1:]
        if tail and tail[0].strip() == "·":
            tail = tail[1:]
        if tail and (m := _DATE.match(tail[0])):
            paper["date"] = m.group(1)
        papers.append(paper)
    return papers


def published(date: str) -> date_type | None:
    """The listing's date when it names the year. A date without one ("Feb 10") means "this year"
    on the day the page was captured, which the pasted text does not say: it is left out rather
    than guessed."""
    try:
        return datetime.strptime(date, "%b %d, %Y").date()
    except ValueError:
        return None


# What this importer once stored in `venue` for want of fields: "6 authors, Jun 27, 2024".
LEGACY_VENUE = r"^([0-9]+ authors?)?(, )?([A-Z][a-z]{2} [0-9]{1,2}(, [0-9]{4})?)?$"


def items(text: str, name: str) -> list[Item]:
    return [Item(label=p["title"][:120], save=_saver(p)) for p in parse(text)]


def _saver(paper: dict):
    def save(ctx):
        source_key = key("paper", " ".join(paper["title"].split()).casefold())
        Paper.objects.for_user(ctx.user).filter(source_key=source_key, venue__regex=LEGACY_VENUE).update(venue="")
        # The year follows the date (Paper.save).
        _, created = upsert_paper(
            ctx, source_key=source_key, title=paper["title"], abstract=paper["abstract"],
            author_count=paper["author_count"], published=published(paper["date"]),
        )
        return [("papers", created)]

    return save
