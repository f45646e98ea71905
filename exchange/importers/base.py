"""What every importer shares: the report, one transaction per item, and the
upserts that make importing the same source twice update instead of duplicate.

An importer turns its input into a list of `Item`s; `run_items` saves each in its
own transaction, so a bad item fails alone and nothing is ever half-written.
"""

import base64
import binascii
import hashlib
from datetime import datetime
from dataclasses import dataclass, field
from typing import Callable

from django.core.exceptions import ValidationError
from django.db import models, transaction

from notes import arxiv, signals
from notes.models import Note, Paper, Snippet, derive_title, validate_body

KINDS = ("notes", "papers", "snippets", "runs", "files")


class ItemError(Exception):
    """An item that cannot be imported; the message is shown to the user as the reason."""


def iso_date(value):
    """An exported date or time (ISO 8601), None when absent; ItemError when it is not one."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ItemError(f"{value!r} is not an ISO date") from None


def file_bytes(entry: dict, what: str) -> bytes:
    """The bytes of an exported file (`exchange.run_export.file_data`), checked against their SHA-256."""
    try:
        data = base64.b64decode(entry.get("data") or "", validate=True)
    except (binascii.Error, ValueError):
        raise ItemError(f"{what} {entry.get('name')!r}: its data is not base64") from None
    digest = entry.get("sha256")
    if digest and hashlib.sha256(data).hexdigest() != digest:
        raise ItemError(f"{what} {entry.get('name')!r} is damaged (its SHA-256 does not match)")
    return data


@dataclass
class Report:
    created: dict = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    updated: dict = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    failed: list = field(default_factory=list)
    # Things worth knowing that are not failures: renamed duplicate titles, images left behind.
    notices: list = field(default_factory=list)

    def count(self, kind: str, created: bool) -> None:
        (self.created if created else self.updated)[kind] += 1

    def fail(self, item: str, reason: str) -> None:
        self.failed.append({"item": item[:200], "reason": reason[:500]})

    def notice(self, item: str, message: str, url: str = "", note: int | None = None,
               choices: tuple[str, ...] = ()) -> None:
        """`url`: where the user can act on it (the note to rename); `choices`: titles the user
        may give `note` (its id) from the report page in one click."""
        entry = {"item": item[:200], "message": message[:500], **({"url": url} if url else {})}
        if note is not None and choices:
            entry |= {"note": note, "choices": [choice[:200] for choice in choices]}
        self.notices.append(entry)

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "failed": self.failed, "notices": self.notices}


@dataclass
class Item:
    """One thing to import: `save()` writes it (and may return rows of other kinds it made)."""

    label: str
    save: Callable[["Context"], list[tuple[str, bool]]]


@dataclass
class Context:
    user: object
    report: Report
    # Titles already handed out in this import, so two items never share a title.
    titles: set = field(default_factory=set)
    # What earlier items became here, for later ones that refer to them: (kind, exported id) -> row id.
    mapped: dict = field(default_factory=dict)


def key(prefix: str, *parts: str) -> str:
    """A stable source key: `prefix:` and a digest of what identifies the item in its source."""
    digest = hashlib.sha1("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return f"{prefix}:{digest}"


def decode(data: bytes, name: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ItemError(f"{name} is not UTF-8 text (byte {exc.start}); save it as UTF-8 and import again") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def run_items(ctx: Context, items: list[Item], progress: Callable[[int, int], None] | None = None) -> Report:
    total = len(items)
    with signals.bulk():  # its notes are indexed behind people's saves
        for done, item in enumerate(items, start=1):
            _save_item(ctx, item)
            if progress:
                progress(done, total)
    return ctx.report


def _save_item(ctx: Context, item: Item) -> None:
    """Save one item in a transaction of its own; a failure goes to the report."""
    try:
        with transaction.atomic():
            for kind, created in item.save(ctx):
                ctx.report.count(kind, created)
    except ItemError as exc:
        ctx.report.fail(item.label, str(exc))
    except ValidationError as exc:  # a limit of the models (body size, tags per note, tag length)
        ctx.report.fail(item.label, "; ".join(exc.messages))
    except Exception as exc:  # noqa: BLE001 - one broken item must not stop the others
        ctx.report.fail(item.label, f"{type(exc).__name__}: {exc}")


def unique_title(ctx: Context, title: str, source_key: str, note: Note | None = None) -> str:
    """The title, or `title (2)`, `(3)`… when another note (or an earlier item) has it already."""
    others = Note.objects.for_user(ctx.user).exclude(source_key=source_key)
    if note is not None:
        others = others.exclude(pk=note.pk)
    candidate, n = title, 1
    while candidate.casefold() in ctx.titles or others.with_title(candidate).exists():
        n += 1
        candidate = f"{title[:290]} ({n})"
    if n > 1:
        ctx.report.notice(title, f"another note has this title: imported as “{candidate}”")
    ctx.titles.add(candidate.casefold())
    return candidate


def upsert_note(ctx: Context, *, source_key: str, title: str, body: str, tags=(), paper=..., created=None,
                dedupe_title: bool = True, existing: Note | None = None) -> tuple[Note, bool]:
    """Create the note with this source key, or edit it (a revision keeps the old text); `existing`
    is the note when the import knows it otherwise (this account's own export)."""
    validate_body(body)
    title = derive_title(title, body)
    existing = existing or Note.objects.for_user(ctx.user).filter(source_key=source_key).first()
    if dedupe_title:
        title = unique_title(ctx, title, source_key, existing)
    if existing is None:
        note = Note.objects.create_note(
            ctx.user, title=title, body=body, tags=list(tags), paper=None if paper is ... else paper,
            source_key=source_key, created=created,
        )
        return note, True
    note = existing.apply_edit(base_version=existing.version, title=title, body=body, tags=list(tags), paper=paper)
    return note, False


def has_placeholder_title(paper: Paper) -> bool:
    """No name known for the paper: untitled, or titled by its arXiv id as upsert_paper does."""
    return not paper.title or paper.title == f"arXiv:{paper.arxiv_id}"


def upsert_paper(ctx: Context, *, source_key: str, arxiv_id: str = "", title: str = "", fill_only: bool = False,
                 match_title: bool = False, **fields) -> tuple[Paper, bool]:
    """The paper with this source key, else with this arXiv id, else a new one. Empty values never
    overwrite what the paper has (a log line must not blank a BibTeX abstract); with `fill_only`
    only empty fields and a placeholder title are filled in."""
    arxiv_id = (arxiv.normalize(arxiv_id) or "") if arxiv_id else ""
    papers = Paper.objects.for_user(ctx.user)
    paper = papers.filter(source_key=source_key).first()
    if paper is None and arxiv_id:
        paper = papers.filter(arxiv_id=arxiv_id).first()
    if paper is None and match_title and title and not arxiv_id:
        # The same paper from another source (a listing, then its BibTeX): same title, no other id.
        same = papers.filter(arxiv_id="", title__iexact=" ".join(title.split()))
        paper = same.filter(year=fields["year"]).first() if fields.get("year") else None
        paper = paper or same.first()
    created = paper is None
    if created:
        paper = Paper(user=ctx.user, source_key=source_key, arxiv_id=arxiv_id)
    values = {"title": title[:500], **fields}
    if arxiv_id:
        values["arxiv_id"] = arxiv_id
    placeholder = has_placeholder_title(paper)
    for name, value in values.items():
        if value in ("", None):
            continue
        if fill_only and not created and getattr(paper, name) and not (name == "title" and placeholder):
            continue
        setattr(paper, name, value)
    if not paper.title:
        paper.title = f"arXiv:{arxiv_id}" if arxiv_id else "Untitled paper"
    paper.full_clean(exclude=["user"], validate_unique=False, validate_constraints=False)
    paper.save()
    return paper, created


def upsert_snippet(note: Note, *, source_key: str, **fields) -> tuple[Snippet, bool]:
    snippet = Snippet.objects.filter(note=note, source_key=source_key).first()
    created = snippet is None
    if created:
        snippet = Snippet(note=note, source_key=source_key)
    for name, value in fields.items():
        setattr(snippet, name, value)
    snippet.full_clean(exclude=["note"])
    snippet.save()
    return snippet, created


def replace_snippets(note: Note, snippets: list[dict], key_prefix: str) -> list[tuple[str, bool]]:
    """Make the snippets an import gave this note exactly `snippets`, in order (what importing it
    the first time would give): the n-th is updated in place, those past the end are deleted one
    by one (so search forgets them). Snippets with another key, added by hand, are left alone."""
    saved, keys = [], []
    for position, fields in enumerate(snippets, start=1):
        keys.append(f"{key_prefix}{position}")
        _, created = upsert_snippet(note, source_key=keys[-1], position=position, **fields)
        saved.append(("snippets", created))
    for stale in note.snippets.filter(source_key__startswith=key_prefix).exclude(source_key__in=keys):
        stale.delete()
    return saved


def add_snippets(note: Note, snippets: list[dict], key_prefix: str) -> list[tuple[str, bool]]:
    """Add these snippets after the note's own, each under a key of its own."""
    last = note.snippets.aggregate(m=models.Max("position"))["m"] or 0
    taken = set(note.snippets.filter(source_key__startswith=key_prefix).values_list("source_key", flat=True))
    saved, n = [], 0
    for position, fields in enumerate(snippets, start=last + 1):
        n += 1
        while f"{key_prefix}{n}" in taken:
            n += 1
        upsert_snippet(note, source_key=f"{key_prefix}{n}", position=position, **fields)
        saved.append(("snippets", True))
    return saved
