"""CSL JSON (`.json`: what Zotero, Mendeley, Better BibTeX and Pandoc export as "CSL JSON",
and what doi.org answers for a DOI): one Paper per item of the list, its variables read into
the fields a BibTeX entry has, so every reference format fills a paper the same way
(exchange/importers/bibtex.py: paper_fields). A bad item fails alone."""

import json
import re

from exchange.importers.base import Item, ItemError, key, upsert_paper
from exchange.importers.bibtex import paper_fields

# CSL variable -> the BibTeX field it fills; the first variable present wins.
_FIELDS = {
    "title": ("title",),
    "journal": ("container-title", "collection-title", "event-title"),
    "publisher": ("publisher",),
    "doi": ("DOI", "doi"),
    "url": ("URL", "url"),
    "abstract": ("abstract",),
    "note": ("note",),
    # Zotero writes a preprint's arXiv id here ("arXiv:2207.12598"); any other number is not
    # taken for one (paper_fields keeps only what reads as an arXiv id).
    "eprint": ("number",),
}
_NAME_PARTS = ("given", "dropping-particle", "non-dropping-particle", "family", "suffix")
# Rich text Zotero keeps in titles (<i>E. coli</i>) and the JATS markup of Crossref's abstracts.
_MARKUP = re.compile(r"</?(?:i|b|em|strong|sup|sub|sc|p|span|jats:[a-z-]+)(?:\s[^<>]*)?>", re.I)
_YEAR = re.compile(r"\d{4}")
# CSL 1.0.2's item types: another app's JSON of objects with a "type" is not taken for references.
TYPES = frozenset("""article article-journal article-magazine article-newspaper bill book broadcast chapter
    classic collection dataset document entry entry-dictionary entry-encyclopedia event figure graphic hearing
    interview legal_case legislation manuscript map motion_picture musical_score pamphlet paper-conference patent
    performance periodical personal_communication post post-weblog regulation report review review-book software
    song speech standard thesis treaty webpage""".split())


def looks_like(head: str) -> bool:
    """A list whose first item is an object of a CSL type (or one such object alone)."""
    first = head.lstrip("\ufeff \t\r\n")[:4000]
    # One object alone is a reference, unless it says what format it is (a Lablog export does).
    if not re.match(r"\[\s*\{", first) and not (first.startswith("{") and '"format"' not in first):
        return False
    kind = re.search(r'"type"\s*:\s*"([^"]*)"', first)
    return bool(kind) and kind.group(1) in TYPES and bool(re.search(r'"(?:title|id)"\s*:', first))


def load(text: str) -> list:
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        raise ItemError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if isinstance(data, dict) and "type" in data:  # one reference, as doi.org answers
        return [data]
    if not isinstance(data, list):
        raise ItemError("not CSL JSON: expected a list of references, each an object with a title")
    return data


def items(text: str, name: str) -> list[Item]:
    return [Item(label=_label(n, entry), save=_saver(entry)) for n, entry in enumerate(load(text), start=1)]


def library_items(text: str, name: str) -> list[Item]:
    """A `.json` file in a vault or folder: its references if it is a CSL JSON library (the one
    Obsidian's citation plugins read), nothing if it is another app's (Obsidian's settings)."""
    return items(text, name) if looks_like(text) else []


def _label(n: int, entry) -> str:
    """`item 3: Its title`, or what else says which one it is (its URL, or what it was)."""
    if not isinstance(entry, dict):
        return f"item {n}: {json.dumps(entry, ensure_ascii=False)[:60]}"
    said = _text(entry.get("title"))[:80] or _text(entry.get("URL") or entry.get("DOI"))[:80]
    return f"item {n}: {said}" if said else f"item {n}"


def _text(value) -> str:
    """A variable as plain text: Crossref gives some as lists (the first counts), numbers happen."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str | int | float)), "")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return _MARKUP.sub("", str(value)).strip()


def _names(people) -> list[str]:
    """`[{"family": "Ho", "given": "Jonathan"}, {"literal": "OpenAI"}]` -> ["Jonathan Ho", "OpenAI"]."""
    if not isinstance(people, list):
        return []
    names = []
    for person in people:
        if isinstance(person, dict):
            name = _text(person.get("literal")) or " ".join(filter(None, (_text(person.get(p)) for p in _NAME_PARTS)))
            if name:
                names.append(" ".join(name.split()))
    return names


def _date(issued) -> dict[str, str]:
    """`{"date-parts": [[2022, 7, 26]]}` -> {"date": "2022-07-26"}; a raw date that starts
    with its year is read as biblatex's ISO date is ("2017-11-02", "2017"), any other raw or
    literal date gives its year only ("Spring 2017")."""
    if not isinstance(issued, dict):
        return {}
    parts = issued.get("date-parts")
    if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
        numbers = [str(p).strip() for p in parts[0][:3]]
        if all(n.isdigit() for n in numbers) and len(numbers[0]) == 4:
            return {"date": "-".join([numbers[0], *(n.zfill(2) for n in numbers[1:])])}
    for variable in ("raw", "literal"):
        text = _text(issued.get(variable))
        if _YEAR.match(text):
            return {"date": text}
        if match := _YEAR.search(text):
            return {"year": match.group(0)}
    return {}


def bibtex_fields(entry: dict) -> dict[str, str]:
    fields = {}
    for name, variables in _FIELDS.items():
        value = next((text for variable in variables if (text := _text(entry.get(variable)))), "")
        if value:
            fields[name] = value
    return {**fields, **_date(entry.get("issued"))}


def _saver(entry):
    def save(ctx):
        if not isinstance(entry, dict):
            raise ItemError("expected an object (a reference with a title)")
        fields = bibtex_fields(entry)
        if not fields.get("title"):
            raise ItemError("the reference has no title")
        cited = _text(entry.get("id"))
        # Better BibTeX and Pandoc write the citation key as the id; Zotero writes an item URL.
        values = paper_fields(cited if re.fullmatch(r"[A-Za-z][\w:.+-]*", cited) else "", fields)
        values["authors"] = "\n".join(_names(entry.get("author")))
        # Known again on the next import by its DOI, arXiv id, or title and year, as a RIS record is.
        identity = values["doi"].lower() or values["arxiv_id"] or f"{values['title'].casefold()}|{values['year']}"
        _, created = upsert_paper(ctx, source_key=key("csl", identity), match_title=True, **values)
        return [("papers", created)]

    return save
