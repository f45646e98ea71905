"""Ids sent in query strings and form fields: text, whatever a link or a script put there."""

import re

# ASCII digits only: str.isdigit() is also true of "²" and "٣", which int() refuses or reads
# as another number; and at most 18 of them, so the value fits the 64-bit primary keys.
_ID = re.compile(r"[0-9]{1,18}")


def parse_id(text) -> int | None:
    """The id `text` spells, or None for anything else (to be answered as a missing object)."""
    text = str(text or "").strip()
    return int(text) if _ID.fullmatch(text) else None
