"""Edits the search UI makes to a note (a wiki-link, the "don't index" flag), always on its latest version."""

import re

from notes.models import EditConflict, Note, NoteLink
from notes.rendering import extract_wikilinks

# A note saved in between is read again and the edit re-applied on top; this many times at most.
ATTEMPTS = 3
_RELATED_LINE = re.compile(r"^Related: .*$", re.MULTILINE)
# [[...]] cannot carry these characters (the wiki-link syntax uses them).
UNLINKABLE = re.compile(r"[\[\]|]")


def edit_latest(note: Note, make_edit) -> Note:
    """`note.apply_edit(**make_edit(latest))` based on the latest version: an edit saved meanwhile
    (another tab, autosave) is kept, and this change is applied on top of it.
    Raises EditConflict when the note keeps changing under us."""
    for _ in range(ATTEMPTS - 1):
        try:
            return note.apply_edit(base_version=note.version, **make_edit(note))
        except EditConflict as conflict:
            note = conflict.current
    return note.apply_edit(base_version=note.version, **make_edit(note))


def with_related_link(body: str, title: str) -> str:
    """The body with a `[[title]]` link: added to a trailing "Related: ..." line, or as a new one."""
    if NoteLink.key_for(title) in {NoteLink.key_for(t) for t in extract_wikilinks(body)}:
        return body
    link = f"[[{title}]]"
    stripped = body.rstrip()
    last_line = stripped.rsplit("\n", 1)[-1]
    if _RELATED_LINE.fullmatch(last_line):
        return f"{stripped}, {link}\n"
    return f"{stripped}\n\nRelated: {link}\n" if stripped else f"Related: {link}\n"


def add_related_link(note: Note, target: Note) -> Note:
    return edit_latest(note, lambda n: {"title": n.title, "body": with_related_link(n.body, target.title)})


def set_searchable(note: Note, searchable: bool) -> Note:
    return edit_latest(note, lambda n: {"title": n.title, "body": n.body, "searchable": searchable})
