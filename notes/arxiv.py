"""arXiv identifiers: accept what a researcher pastes (an id, an abs or pdf URL,
with or without version) and keep the normalised id without its version."""

import re

# New-style ids (0704.0001 onwards: YYMM.NNNN or YYMM.NNNNN) and old-style
# archive ids (hep-th/9901001, math.GT/0309136).
_NEW = r"(?P<new>\d{4}\.\d{4,5})"
_OLD = r"(?P<old>[a-z\-]+(?:\.[A-Z]{2})?/\d{7})"
_ID = rf"(?:{_NEW}|{_OLD})(?:v\d+)?"
_URL = re.compile(rf"arxiv\.org/(?:abs|pdf|html|format)/{_ID}(?:\.pdf)?", re.IGNORECASE)
_BARE = re.compile(rf"^\s*(?:arxiv:\s*)?{_ID}\s*$", re.IGNORECASE)
_ANYWHERE = re.compile(rf"(?:arxiv:\s*|\[|\b){_ID}", re.IGNORECASE)


def _id_from(match: re.Match) -> str:
    return match.group("new") or match.group("old")


def normalize(text: str) -> str | None:
    """The arXiv id in a pasted id or arxiv.org URL, without version; None if there is none."""
    if not text:
        return None
    text = text.strip()
    match = _URL.search(text) or _BARE.match(text)
    return _id_from(match) if match else None


def find(text: str) -> str | None:
    """The first arXiv id mentioned anywhere in free text (a URL, `[2305.01625]`, `arXiv:…`)."""
    match = _URL.search(text) or _ANYWHERE.search(text)
    return _id_from(match) if match else None
