"""RIS (`.ris`, what Zotero, Mendeley and EndNote export besides BibTeX): one Paper per
record (`TY  -` … `ER  -`), its tags read into the fields a BibTeX entry has, so both
formats fill a paper the same way (exchange/importers/bibtex.py: paper_fields)."""

import re

from exchange.importers.base import Item, ItemError, key, upsert_paper
from exchange.importers.bibtex import paper_fields

# `AU  - Ho, Jonathan`: two capitals or a capital and a digit, two spaces, a dash.
_LINE = re.compile(r"^(?P<tag>[A-Z][A-Z0-9])  -(?: (?P<value>.*))?$")
_DATE = re.compile(r"(?P<year>\d{4})(?:/(?P<month>\d{1,2})?(?:/(?P<day>\d{1,2})?)?)?")
# RIS tag -> the BibTeX field it fills; the first tag found for a field wins (T1 before TI…).
_FIELDS = {
    "title": ("TI", "T1", "CT"),
    "journal": ("JO", "JF", "T2", "J2", "JA", "BT"),
    "publisher": ("PB",),
    "doi": ("DO",),
    "url": ("UR", "L2"),
    "abstract": ("AB", "N2"),
    "note": ("N1",),
    "eprint": ("AN",),
}
_AUTHORS = ("AU", "A1", "A2")
_DATES = ("DA", "PY", "Y1")


def looks_like(head: str) -> bool:
    """A RIS file starts (after blank lines) with a `TY  - ` line."""
    for line in head.splitlines():
        if line.strip():
            return line.lstrip("\ufeff").startswith("TY  -")
    return False


def records(text: str) -> list[tuple[int, dict[str, list[str]]]]:
    """(line number, tag -> values) per record; a value continued on the next line (no tag) joins it."""
    found, current, start, last = [], None, 0, None
    for number, line in enumerate(text.lstrip("\ufeff").split("\n"), start=1):
        match = _LINE.match(line.rstrip())
        if match:
            tag, value = match.group("tag"), (match.group("value") or "").strip()
            if tag == "TY":
                current, start = {}, number
            elif current is None:
                continue
            elif tag == "ER":
                found.append((start, current))
                current = None
                continue
            current.setdefault(tag, []).append(value)
            last = tag
        elif current is not None and line.strip() and last:
            current[last][-1] = f"{current[last][-1]} {line.strip()}"
    if current:  # a last record without ER: still a record
        found.append((start, current))
    return found


def bibtex_fields(tags: dict[str, list[str]]) -> dict[str, str]:
    fields = {}
    for name, options in _FIELDS.items():
        value = next((tags[tag][0] for tag in options if tags.get(tag) and tags[tag][0]), "")
        if value:
            fields[name] = value
    authors = [name for tag in _AUTHORS for name in tags.get(tag, []) if name]
    if authors:
        fields["author"] = " and ".join(authors)
    for tag in _DATES:
        match = _DATE.match(tags.get(tag, [""])[0])
        if match:
            fields["date"] = "-".join(f"{int(part):02d}" if i else part for i, part in
                                      enumerate(match.group("year", "month", "day")) if part)
            break
    return fields


def items(text: str, name: str) -> list[Item]:
    return [Item(label=f"record at line {line}: {tags.get('TI', tags.get('T1', ['']))[0][:80]}", save=_saver(tags))
            for line, tags in records(text)]


def _saver(tags: dict[str, list[str]]):
    def save(ctx):
        fields = bibtex_fields(tags)
        if not fields.get("title"):
            raise ItemError("the record has no title (TI or T1)")
        values = paper_fields("", fields)
        # RIS has no citation key: the paper is known again by its DOI, arXiv id, or title and year.
        identity = values["doi"].lower() or values["arxiv_id"] or f"{values['title'].casefold()}|{values['year']}"
        _, created = upsert_paper(ctx, source_key=key("ris", identity), match_title=True, **values)
        return [("papers", created)]

    return save
