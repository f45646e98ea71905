"""Lablog JSON (exchange.exporters.export_data): restored as it was, versions,
revisions, snippets, dates, tags, dismissed suggestions, runnables, runs, artifact bytes
and the notes' files included, so export → import loses nothing.

Into another account, items keep their exported key as source key (importing the file
again updates them) and `run:N/…` references are renumbered to the new runs. Into the
account it came from (exchange.origin), a key names the row it was exported from: nothing
is created twice, and a note edited since the export keeps its newer text.
"""

import json
import re

from django.core.exceptions import ValidationError
from django.db.models import Max

from exchange import exporters, origin
from exchange.importers.base import Item, ItemError, file_bytes, iso_date, upsert_paper, upsert_snippet
from exchange.importers.lablog_runs import import_runnables
from notes.attachments import reference_name, store
from notes.models import Note, Paper, Revision, Snippet, Tag
from search.models import DismissedRelated


def load(text: str) -> dict:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ItemError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict) or data.get("format") != exporters.FORMAT:
        raise ItemError('not a Lablog export (expected an object with "format": "lablog")')
    if data.get("version") not in exporters.READABLE_VERSIONS:
        raise ItemError(
            f"Lablog export version {data.get('version')!r} is not supported "
            f"(this Lablog reads {', '.join(map(str, exporters.READABLE_VERSIONS))})"
        )
    for name in ("papers", "notes", "tags"):
        if not isinstance(data.get(name, []), list):
            raise ItemError(f'"{name}" must be a list')
    return data


def looks_like(text: str) -> bool:
    head = text.lstrip()[:200]
    return head.startswith("{") and '"format"' in head and '"lablog"' in head


def items(text: str, name: str) -> list[Item]:
    data = load(text)
    source = data.get("origin")
    result = [Item(label="tags", save=_tags_saver(data.get("tags", [])))]
    result += [Item(label=f"paper {_label(p)}", save=_paper_saver(p, source)) for p in data.get("papers", [])]
    result += [Item(label=f"note {_label(n)}", save=_note_saver(n, source)) for n in data.get("notes", [])]
    result.append(Item(label="run references and dismissed suggestions", save=_links_saver(data.get("notes", []))))
    return result


def _same_account(ctx, source) -> bool:
    return bool(source) and source == origin.fingerprint(ctx.user)


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


def _paper_saver(entry, source):
    def save(ctx):
        _require(entry, "key", "title")
        pk = origin.own_pk(entry["key"], "paper", _same_account(ctx, source))
        if pk is not None and Paper.objects.for_user(ctx.user).filter(pk=pk).exists():
            # This account's own paper: it is here already, as it is now.
            ctx.mapped[("paper", entry["key"])] = pk
            return [("papers", False)]
        fields = {f: entry.get(f) or "" for f in ("authors", "venue", "doi", "url", "abstract", "citation_key")}
        author_count = entry.get("author_count")
        if author_count is not None and (not isinstance(author_count, int) or author_count < 0):
            raise ItemError("author_count must be a whole number")
        published = iso_date(entry.get("published"))
        paper, created = upsert_paper(
            ctx, source_key=entry["key"], arxiv_id=entry.get("arxiv_id") or "", title=entry["title"],
            year=entry.get("year"), author_count=author_count, published=published.date() if published else None,
            **fields,
        )
        if entry.get("created"):
            Paper.objects.filter(pk=paper.pk).update(created=iso_date(entry["created"]))
        ctx.mapped[("paper", entry["key"])] = paper.pk
        return [("papers", created)]

    return save


def _find_note(ctx, entry, same_account: bool) -> Note | None:
    notes = Note.objects.for_user(ctx.user)
    pk = origin.own_pk(entry["key"], "note", same_account)
    if pk is not None and (note := notes.filter(pk=pk).first()):
        return note
    return notes.filter(source_key=entry["key"]).first()


def _note_saver(entry, source):
    def save(ctx):
        _require(entry, "key", "title")
        same_account = _same_account(ctx, source)
        body = entry.get("body") or ""
        tags = [t for t in entry.get("tags") or [] if isinstance(t, str)]
        paper = None
        if entry.get("paper"):
            paper_id = ctx.mapped.get(("paper", entry["paper"]))
            papers = Paper.objects.for_user(ctx.user)
            paper = papers.filter(pk=paper_id).first() if paper_id else papers.filter(source_key=entry["paper"]).first()
            if paper is None:
                raise ItemError(f"its paper {entry['paper']} is not in this import")
        version = entry.get("version") or 1
        if not isinstance(version, int) or version < 1:
            raise ItemError("version must be a positive integer")
        note = _find_note(ctx, entry, same_account)
        created = note is None
        if created:
            note = Note.objects.create_note(ctx.user, title=entry["title"], body=body, tags=tags, source_key=entry["key"])
        # Its runs first, so the body compares (and is stored) with its runs' ids here.
        saved = import_runnables(ctx, note, entry.get("runnables") or [], same_account)
        body = renumber_runs(body, _run_ids(ctx))
        changed = _restore(ctx, note, entry, body, tags, paper, version, keep_current=not created)
        for rev in entry.get("revisions") or []:
            _require(rev, "version")
            _, made = Revision.objects.get_or_create(
                note=note, version=rev["version"],
                defaults={"title": rev.get("title") or "", "body": rev.get("body") or "", "tags": rev.get("tags") or "",
                          "created": iso_date(rev.get("created")) or note.created},
            )
            changed = changed or made
        ctx.mapped[("note", entry["key"])] = note.pk
        saved.insert(0, ("notes", created))
        last = Snippet.objects.filter(note=note).aggregate(m=Max("position"))["m"] or 0
        for n, snip in enumerate(entry.get("snippets") or [], start=1):
            _require(snip, "key")
            pk = origin.own_pk(snip["key"], "snippet", same_account)
            if pk is not None and Snippet.objects.filter(pk=pk, note=note).exists():
                saved.append(("snippets", False))
                continue
            fields = {f: snip.get(f) or "" for f in ("kind", "text", "locator", "language", "url", "comment")}
            snippet, snippet_created = upsert_snippet(
                note, source_key=snip["key"], position=snip.get("position") or last + n, **fields
            )
            if snip.get("created"):
                Snippet.objects.filter(pk=snippet.pk).update(created=iso_date(snip["created"]))
            saved.append(("snippets", snippet_created))
        saved += _import_files(ctx, note, entry)
        if changed or created:
            note.notify_changed()
        return saved

    return save


def _import_files(ctx, note, entry) -> list[tuple[str, bool]]:
    """The note's files, by name; one it already has with the same bytes is left alone."""
    saved = []
    for file in entry.get("files") or []:
        name = reference_name(file.get("name") or "") if isinstance(file, dict) else None
        if not name:
            raise ItemError(f"a file of its files has no usable name: {str(file)[:80]!r}")
        try:
            created = store(note, name, file_bytes(file, "file"))
        except ValidationError as exc:
            ctx.report.notice(_label(entry), f"{exc.messages[0]} It was left out.")
            continue
        if created is not None:
            saved.append(("files", created))
    return saved


def _restore(ctx, note, entry, body, tags, paper, version, keep_current: bool) -> bool:
    """Give an existing note the exported state, version number included (a restore, not an
    edit); False when it has it already. A note saved here since (a higher version) keeps
    its newer text; what an older one had is kept as a revision before it is replaced."""
    title = entry["title"][:300]
    created, updated = iso_date(entry.get("created")) or note.created, iso_date(entry.get("updated")) or note.updated
    searchable = bool(entry.get("searchable", True))
    state = (title, body, sorted(tags), paper.pk if paper else None, version, searchable, created, updated)
    if state == (note.title, note.body, sorted(note.tag_names()), note.paper_id, note.version, note.searchable,
                 note.created, note.updated):
        return False
    if note.version > version:
        ctx.report.notice(note.title, f"kept this account's newer version {note.version} (the file has {version})")
        return False
    if keep_current and (note.title, note.body) != (title, body):
        Revision.objects.get_or_create(
            note=note, version=note.version,
            defaults={"title": note.title, "body": note.body, "tags": ",".join(note.tag_names()),
                      "created": note.updated},
        )
    Note.objects.filter(pk=note.pk).update(
        title=title, body=body, paper=paper, version=version, searchable=searchable, rendered_version=0,
        created=created, updated=updated,
    )
    note.refresh_from_db()
    note.set_tags(tags)
    note.sync_links()
    return True


# `run:42/grid.png` in a link or image target (not `rerun:4`, not `run:42x`).
_RUN_REFERENCE = re.compile(r"(?<![\w:/.-])run:(\d+)(?=[/)\s\]\"'>]|$)")


def _run_ids(ctx) -> dict[int, int]:
    """Exported run id -> its id here, for the runs that got a new one."""
    return {old: new for (kind, old), new in ctx.mapped.items() if kind == "run" and old != new}


def renumber_runs(text: str, run_ids: dict[int, int]) -> str:
    """`run:OLD/…` -> `run:NEW/…` for the runs this import recreated under new ids."""
    return _RUN_REFERENCE.sub(lambda m: f"run:{run_ids.get(int(m.group(1)), m.group(1))}", text)


def _links_saver(entries):
    """Once every note and run is in: point run references at the new run ids (body and
    revisions), and dismiss again the suggestions the user had dismissed."""

    def save(ctx):
        run_ids = _run_ids(ctx)
        for entry in entries:
            if not isinstance(entry, dict) or ("note", entry.get("key")) not in ctx.mapped:
                continue
            note = Note.objects.get(pk=ctx.mapped[("note", entry["key"])])
            if run_ids:
                body = renumber_runs(note.body, run_ids)
                if body != note.body:
                    Note.objects.filter(pk=note.pk).update(body=body, rendered_version=0)
                    note.notify_changed()
                for revision in note.revisions.filter(body__contains="run:"):
                    text = renumber_runs(revision.body, run_ids)
                    if text != revision.body:
                        Revision.objects.filter(pk=revision.pk).update(body=text)
            for other_key in entry.get("dismissed") or []:
                other = ctx.mapped.get(("note", other_key))
                if other and other != note.pk:
                    DismissedRelated.objects.get_or_create(user=ctx.user, note=note, other_id=other)
        return []

    return save
