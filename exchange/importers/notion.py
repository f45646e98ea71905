"""Notion's "Markdown & CSV" export, read as the page its author saw.

Notion names every page's file `Title <32 hex digits>.md` (a sub-page sits in a folder of the
same name), with characters a file name cannot hold replaced, so the page's real title is its
first line, `# Title`. A page of a database lists its properties next, one `Name: value` a line.
Links between pages are relative Markdown links, which `markdown.rewrite_file_links` resolves.
"""

import datetime as dt
import re

from django.utils import timezone

_PAGE_ID = re.compile(r"\s+[0-9a-f]{32}$", re.I)
_TITLE_LINE = re.compile(r"\A\s*# (?P<title>[^\n]+)\n?")
_PROPERTY = re.compile(r"^(?P<name>[^\s:][^:\n]{0,40}): (?P<value>.*\S)\s*$")
_TAG_PROPERTIES = {"tags", "tag", "labels", "topics"}
_DATE_PROPERTIES = {"created", "created time", "created at", "date", "date created"}
# The unambiguous date formats Notion writes ("Full date", "Year/Month/Day", ISO), with or
# without a time; month/day and day/month orders cannot be told apart and stay in the text.
_DATE_FORMATS = ("%B %d, %Y %I:%M %p", "%B %d, %Y %H:%M", "%B %d, %Y", "%Y/%m/%d %I:%M %p", "%Y/%m/%d", "%Y-%m-%d")


def page_name(stem: str) -> str:
    """The file or folder name without Notion's page id: `Attention 1a2b…` -> `Attention`."""
    return _PAGE_ID.sub("", stem)


def is_page(stem: str) -> bool:
    return page_name(stem) != stem


def _date(value: str):
    for fmt in _DATE_FORMATS:
        try:
            parsed = dt.datetime.strptime(value, fmt)
        except ValueError:
            continue
        return timezone.make_aware(parsed if parsed.time() != dt.time() else parsed.replace(hour=12), dt.timezone.utc)
    return None


def read_page(body: str) -> dict:
    """Title (None without a `# ` first line), tags and date from the properties, and the body
    without the title line; properties it did not take stay in the body as a list."""
    match = _TITLE_LINE.match(body)
    if not match:
        return {"title": None, "tags": [], "created": None, "body": body}
    rest = body[match.end():].lstrip("\n")
    block, _, after = rest.partition("\n\n")
    lines = block.split("\n")
    properties = [_PROPERTY.match(line) for line in lines]
    if not block or not all(properties):
        return {"title": match.group("title").strip(), "tags": [], "created": None, "body": rest}
    tags, created, kept = [], None, []
    for prop in properties:
        name, value = prop.group("name").strip().casefold(), prop.group("value")
        if name in _TAG_PROPERTIES:
            tags += ["-".join(t.split()) for t in value.split(",") if t.strip()]  # "deep learning" is one tag
        elif name in _DATE_PROPERTIES and created is None and (when := _date(value)):
            created = when
        else:
            kept.append(f"- {prop.group(0).strip()}")
    body = "\n\n".join(part for part in ("\n".join(kept), after) if part)
    return {"title": match.group("title").strip(), "tags": tags, "created": created, "body": body}
