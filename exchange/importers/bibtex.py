"""BibTeX (`.bib`): one Paper per entry, with title, authors, year and publication date
(biblatex `date`, else `year` + `month`), author count (Lablog's `authorcount`), venue, arXiv id (from `eprint`/`archivePrefix`
or a URL), DOI, abstract and citation key; LaTeX accents and braces are turned into
plain text. A malformed entry fails alone."""

import datetime as dt
import re
import unicodedata

from notes import arxiv

from exchange.importers.base import Item, ItemError, key, upsert_paper

_ENTRY = re.compile(r"@\s*(?P<type>[A-Za-z]+)\s*(?P<open>[{(])")
_SKIP_TYPES = {"comment", "preamble", "string"}
_ACCENTS = {
    "'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304", ".": "\u0307",
    "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "k": "\u0328", "r": "\u030a",
}
_LETTERS = {
    "ss": "ß", "o": "ø", "O": "Ø", "aa": "å", "AA": "Å", "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ",
    "l": "ł", "L": "Ł", "i": "ı", "j": "ȷ",
}
_SYMBOL_ACCENT = re.compile(r"""\\(?P<cmd>['`^"~=.])\s*(?:\{\s*(?P<a>\\?[A-Za-z])\s*\}|(?P<b>\\?[A-Za-z]))""")
_LETTER_ACCENT = re.compile(r"\\(?P<cmd>[uvHckr])(?:\s*\{\s*(?P<a>\\?[A-Za-z])\s*\}|\s+(?P<b>[A-Za-z]))")
_LETTER_CMD = re.compile(r"\\(ss|aa|AA|ae|AE|oe|OE|o|O|l|L|i|j)(?![A-Za-z])\s*")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
# biblatex `date`: YYYY, YYYY-MM or YYYY-MM-DD, possibly the start of a range (`2023-05-17/2023-05-20`).
_ISO_DATE = re.compile(r"\s*(?P<year>\d{4})(?:-(?P<month>\d{1,2})(?:-(?P<day>\d{1,2}))?)?")


def _base_letter(text: str) -> str:
    return _LETTERS.get(text[1:], text[1:]) if text.startswith("\\") else text


def clean_latex(text: str) -> str:
    """`{\\"O}zt{\\"u}rk, {Deep} Learning -- \\& more` -> `Öztürk, Deep Learning – & more`."""
    text = _SYMBOL_ACCENT.sub(lambda m: _base_letter(m["a"] or m["b"]).replace("ı", "i") + _ACCENTS[m["cmd"]], text)
    text = _LETTER_ACCENT.sub(lambda m: _base_letter(m["a"] or m["b"]).replace("ı", "i") + _ACCENTS[m["cmd"]], text)
    text = _LETTER_CMD.sub(lambda m: _LETTERS[m.group(1)], text)
    # Escaped braces are text; keep them apart from the grouping braces removed below.
    text = text.replace("\\{", "\ue000").replace("\\}", "\ue001").replace("\\textbackslash", "\ue002")
    text = text.replace("\\textasciitilde", "\ue003")
    text = re.sub(r"\\([&%$#_])", r"\1", text)
    text = re.sub(r"\\(?:emph|textit|textbf|textsc|texttt|mathrm|mbox|url)\s*", "", text)
    text = text.replace("---", "—").replace("--", "–").replace("~", " ").replace("``", "“").replace("''", "”")
    text = text.replace("{", "").replace("}", "")
    text = text.replace("\ue000", "{").replace("\ue001", "}").replace("\ue002", "\\").replace("\ue003", "~")
    return unicodedata.normalize("NFC", " ".join(text.split()))


def _balanced(text: str, start: int, open_char: str) -> int:
    """Index of the bracket closing the one just before `start`; -1 when it never closes."""
    close_char = "}" if open_char == "{" else ")"
    depth = 1
    for i in range(start, len(text)):
        if text[i - 1] == "\\":
            continue
        if text[i] == open_char:
            depth += 1
        elif text[i] == close_char:
            depth -= 1
            if depth == 0:
                return i
    return -1


def _value(body: str, i: int) -> tuple[str, int]:
    """One field value starting at body[i] (braced, quoted, a number or a macro, joined by #)."""
    parts = []
    while True:
        while i < len(body) and body[i].isspace():
            i += 1
        if i >= len(body):
            raise ItemError("a field has no value")
        c = body[i]
        if c == "{":
            depth, j = 0, i
            while j < len(body):
                if body[j] == "{" and body[j - 1] != "\\":
                    depth += 1
                elif body[j] == "}" and body[j - 1] != "\\":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            else:
                raise ItemError("a braced value never closes")
            parts.append(body[i + 1:j])
            i = j + 1
        elif c == '"':
            depth, j = 0, i + 1
            while j < len(body) and not (body[j] == '"' and depth == 0 and body[j - 1] != "\\"):
                depth += {"{": 1, "}": -1}.get(body[j], 0)
                j += 1
            if j >= len(body):
                raise ItemError("a quoted value never closes")
            parts.append(body[i + 1:j])
            i = j + 1
        else:
            match = re.compile(r"[\w:.+/-]+").match(body, i)
            if not match:
                raise ItemError(f"unexpected {c!r} where a value should be")
            parts.append(match.group(0))
            i = match.end()
        while i < len(body) and body[i].isspace():
            i += 1
        if i < len(body) and body[i] == "#":
            i += 1
            continue
        return "".join(parts), i


def parse_fields(body: str) -> tuple[str, dict]:
    """(citation key, {field: raw value}) of one entry's text between its brackets."""
    citation_key, comma, rest = body.partition(",")
    citation_key = citation_key.strip()
    if not comma or not citation_key or re.search(r"[\s={}\"]", citation_key):
        raise ItemError("the entry has no citation key")
    fields, i = {}, 0
    field_name = re.compile(r"\s*([A-Za-z][\w:-]*)\s*=")
    while True:
        while i < len(rest) and (rest[i].isspace() or rest[i] == ","):
            i += 1
        if i >= len(rest):
            return citation_key, fields
        match = field_name.match(rest, i)
        if not match:
            raise ItemError(f"expected `name = value` near “{rest[i:i + 30].strip()}”")
        value, i = _value(rest, match.end())
        fields[match.group(1).lower()] = value
        while i < len(rest) and rest[i].isspace():
            i += 1
        if i < len(rest) and rest[i] != ",":
            raise ItemError(f"missing comma after field {match.group(1)}")


def split_entries(text: str) -> list[tuple[str, str | None, str]]:
    """(label, entry text or None, reason) per entry; a never-closing entry runs to the next `@`."""
    entries, pos = [], 0
    while match := _ENTRY.search(text, pos):
        kind = match["type"].lower()
        end = _balanced(text, match.end(), match["open"])
        label_key = text[match.end():match.end() + 60].split(",")[0].strip() or "?"
        label = f"@{kind}{{{label_key}"
        if end < 0:
            following = _ENTRY.search(text, match.end())
            entries.append((label, None, "the entry's braces never close"))
            pos = following.start() if following else len(text)
            continue
        if kind not in _SKIP_TYPES:
            entries.append((label, text[match.end():end], ""))
        pos = end + 1
    return entries


def _authors(raw: str) -> str:
    names = []
    for name in re.split(r"\s+and\s+", clean_latex(raw)):
        last, comma, first = name.partition(",")
        names.append(f"{first.strip()} {last.strip()}".strip() if comma else name.strip())
    return "\n".join(n for n in names if n)


def _month(raw: str) -> int | None:
    """`jan`, `Jan.`, `January`, `{January}`, `1` or `01` -> 1; anything else -> None."""
    word = clean_latex(raw).strip().rstrip(".").lower()
    if word.isdigit():
        return int(word) if 1 <= int(word) <= 12 else None
    for number, name in enumerate(_MONTHS, start=1):
        if word in (name, name[:3]) or (name == "september" and word == "sept"):
            return number
    return None


def publication(fields: dict) -> tuple[int | None, dt.date | None]:
    """(year, day it appeared) of an entry: biblatex `date` wins over `year` + `month`. A month
    without a day is its 1st; a date that cannot be (unknown month, 31 February) keeps the year only."""
    if match := _ISO_DATE.match(fields.get("date", "")):
        year, month, day = (int(part) if part else None for part in match.group("year", "month", "day"))
    elif match := re.search(r"\d{4}", fields.get("year", "")):
        year, month, day = int(match.group(0)), _month(fields.get("month", "")), None
    else:
        return None, None
    if not month:
        return year, None
    try:
        return year, dt.date(year, month, day or 1)
    except ValueError:
        return year, None


def paper_fields(citation_key: str, fields: dict) -> dict:
    title = clean_latex(fields.get("title", ""))
    if not title:
        raise ItemError("the entry has no title")
    eprint = fields.get("eprint", "")
    arxiv_id = ""
    if eprint and (fields.get("archiveprefix", "").lower() in ("arxiv", "") or arxiv.normalize(eprint)):
        arxiv_id = arxiv.normalize(eprint) or ""
    if not arxiv_id:
        for name in ("url", "journal", "note", "howpublished"):
            if found := arxiv.find(fields.get(name, "")):
                arxiv_id = found
                break
    year, published = publication(fields)
    doi = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)", "", fields.get("doi", "").strip(), flags=re.I)
    url = fields.get("url", "").strip()
    return {
        "title": title, "authors": _authors(fields.get("author", "")), "year": year, "published": published,
        "venue": clean_latex(fields.get("journal") or fields.get("booktitle") or fields.get("publisher") or "")[:300],
        "arxiv_id": arxiv_id, "doi": doi[:200], "url": url if url.startswith(("http://", "https://")) else "",
        "abstract": clean_latex(fields.get("abstract", "")), "citation_key": citation_key[:200],
        "author_count": int(fields["authorcount"]) if fields.get("authorcount", "").strip().isdigit() else None,
    }


def items(text: str, name: str) -> list[Item]:
    result, seen = [], set()
    for label, entry, reason in split_entries(text):
        result.append(Item(label=label, save=_saver(entry, reason, seen)))
    return result


def _saver(entry: str | None, reason: str, seen: set):
    def save(ctx):
        if entry is None:
            raise ItemError(reason)
        citation_key, fields = parse_fields(entry)
        if citation_key.casefold() in seen:
            raise ItemError(f"citation key {citation_key} appears twice in this file; the first entry was imported")
        seen.add(citation_key.casefold())
        values = paper_fields(citation_key, fields)
        _, created = upsert_paper(ctx, source_key=key("bib", citation_key.casefold()), match_title=True, **values)
        return [("papers", created)]

    return save
