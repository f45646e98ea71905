"""Lablog JSON (exchange.exporters.export_data): restored as it was, versions,
revisions, snippets, dates and tags included, so export → import loses nothing.
Items keep their exported key as source key: importing the file again updates them."""

import json
from datetime import datetime

from django.db.models import Max

from exchange import exporters
from exchange.importers.base import Item, ItemError, upsert_paper, upsert_snippet
from notes.models import Note, Paper, Revision, Snippet, Tag


def _date(value):
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ItemError(f"{value!r} is not an ISO date") from None


def load(text: str) -> dict:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ItemError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict) or data.get("format") != exporters.FORMAT:
        raise ItemError('not a Lablog export (expected an object with "format": "lablog")')
    if data.get("version") != exporters.VERSION:
        raise ItemError(f"Lablog export version {data.get('version')!r} is not supported (expected {exporters.VERSION})")
    for name in ("papers", "notes", "tags"):
        if not isinstance(data.get(name, []), list):
            raise ItemError(f'"{name}" must be a list')
    return data


def looks_like(text: str) -> bool:
    head = text.lstrip()[:200]
    return head.startswith("{") and '"format"' in head and '"lablog"' in head


def items(text: str, name: str) -> list[Item]:
    data = load(text)
    result = [Item(label="tags", save=_tags_saver(data.get("tags", [])))]
    result += [Item(label=f"paper {_label(p)}", save=_paper_saver(p)) for p in data.get("papers", [])]
    result += [Item(label=f"note {_label(n)}", save=_note_saver(n)) for n in data.get("notes", [])]
    return result


def _label(entry) -> str:
    return str(entry.get("title") or entry.get("key") or "?")[:100] if isinstance(entry, dict) else repr(entry)[:100]


def _require(entry, *names) -> None:
    if not isinstance(entry, dict):
        raise ItemError("expected an object")
    missing = [n for n in names if not entry.get(n)]
    if missing:
        raise ItemError(f"missing {', '.join(missing)}")
    for field in ("title", "body", "key"):
        if field in entry and not isinstance(entry[field], str):
            raise ItemError(f"{field} must be a string")


def _tags_saver(names):
    def save(ctx):
        for name in names:
            if isinstance(name, str) and name.strip():
                Tag.objects.get_or_create(user=ctx.user, name=name.strip()[:64])
        return []

    return save


def _paper_saver(entry):
    def save(ctx):
        _require(entry, "key", "title")
        fields = {f: entry.get(f) or "" for f in ("authors", "venue", "doi", "url", "abstract", "citation_key")}
        author_count = entry.get("author_count")
        if author_count is not None and (not isinstance(author_count, int) or author_count < 0):
            raise ItemError("author_count must be a whole number")
        published = _date(entry.get("published"))
        paper, created = upsert_paper(
            ctx, source_key=entry["key"], arxiv_id=entry.get("arxiv_id") or "", title=entry["title"],
            year=entry.get("year"), author_count=author_count, published=published.date() if published else None,
            **fields,
        )
        if entry.get("created"):
            Paper.objects.filter(pk=paper.pk).update(created=_date(entry["created"]))
        return [("papers", created)]

    return save


def _note_saver(entry):
    def save(ctx):
        _require(entry, "key", "title")
        body = entry.get("body") or ""
        tags = [t for t in entry.get("tags") or [] if isinstance(t, str)]
        paper = None
        if entry.get("paper"):
            paper = Paper.objects.for_user(ctx.user).filter(source_key=entry["paper"]).first()
            if paper is None:
                raise ItemError(f"its paper {entry['paper']} is not in this import")
        version = entry.get("version") or 1
        if not isinstance(version, int) or version < 1:
            raise ItemError("version must be a positive integer")
        note = Note.objects.for_user(ctx.user).filter(source_key=entry["key"]).first()
        created = note is None
        if created:
            note = Note.objects.create_note(ctx.user, title=entry["title"], body=body, tags=tags, source_key=entry["key"])
        # A restore, not an edit: the note takes the exported state, version number included.
        Note.objects.filter(pk=note.pk).update(
            title=entry["title"][:300], body=body, paper=paper, version=version,
            searchable=bool(entry.get("searchable", True)), rendered_version=0,
            created=_date(entry.get("created")) or note.created, updated=_date(entry.get("updated")) or note.updated,
        )
        note.refresh_from_db()
        note.set_tags(tags)
        note.sync_links()
        for rev in entry.get("revisions") or []:
            _require(rev, "version")
            Revision.objects.update_or_create(
                note=note, version=rev["version"],
                defaults={"title": rev.get("title") or "", "body": rev.get("body") or "", "tags": rev.get("tags") or "",
                          "created": _date(rev.get("created")) or note.created},
            )
        saved = [("notes", created)]
        last = Snippet.objects.filter(note=note).aggregate(m=Max("position"))["m"] or 0
        for n, snip in enumerate(entry.get("snippets") or [], start=1):
            _require(snip, "key")
            fields = {f: snip.get(f) or "" for f in ("kind", "text", "locator", "language", "url", "comment")}
            snippet, snippet_created = upsert_snippet(
                note, source_key=snip["key"], position=snip.get("position") or last + n, **fields
            )
            if snip.get("created"):
                Snippet.objects.filter(pk=snippet.pk).update(created=_date(snip["created"]))
            saved.append(("snippets", snippet_created))
        note.notify_changed()
        return saved

    return save
