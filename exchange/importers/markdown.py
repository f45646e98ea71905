"""Markdown notes: one file, a folder or a zip (an Obsidian-style vault).

YAML front matter gives the title, tags, date and aliases; inline `#tags` are
tags too; `[[wiki-links]]` (also `[[target|label]]`) that name another imported
file or one of its aliases, and relative Markdown links to another imported file
(`[label](Other%20note.md)`), are rewritten to that note's title, so they stay links
between the imported notes. Notion's export is read as its pages (`notion`).
Images and PDFs the notes show or link to, when the vault has them, become the notes'
files (`notes.attachments`); the report names the ones it does not have.
A `## Snippets` section (as Lablog's own export writes it) becomes the note's snippets;
importing again makes them exactly what the file lists. The `## Paper` section the export
appends names the note's paper (by citation key) and is not kept in the body, so
export → import → export gives the same files.
"""

import datetime as dt
import posixpath
import re
from pathlib import PurePosixPath
from typing import Callable
from urllib.parse import unquote

import yaml
from django.core.exceptions import ValidationError
from django.utils import timezone

from exchange import origin
from exchange.exporters import snippet_markdown
from exchange.importers import notion
from exchange.importers.base import Item, ItemError, add_snippets, decode, key, replace_snippets, upsert_note
from exchange.importers.markdown_snippets import split_snippets
from notes import arxiv
from notes.attachments import FILE_SUFFIXES, URL_SCHEME, reference_name, store
from notes.models import Note, Paper, Snippet, parse_tags

MARKDOWN_SUFFIXES = (".md", ".markdown")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<yaml>.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_INLINE_TAG = re.compile(r"(?<![\w/&#])#([A-Za-z][\w/-]*)")
_WIKILINK = re.compile(r"(?P<embed>!?)\[\[(?P<target>[^\[\]|#]+)(?P<heading>#[^\[\]|]*)?(?:\|(?P<label>[^\[\]]*))?\]\]")
_IMAGE = re.compile(r"!\[[^\]]*\]\((?P<src>[^)\s]+)[^)]*\)")
_FILE_LINK = re.compile(r"(?<![!\]])\[(?P<label>[^\[\]|\n]*)\]\((?:<(?P<angled>[^<>\n]+)>|(?P<href>[^()\s]+))\)")
# The `## Paper` section Lablog's export appends last: `Title [@citationkey] <https://arxiv.org/abs/…>`.
_PAPER_SECTION = re.compile(
    r"\n*^## Paper[ \t]*\n\n[^\n]* \[@(?P<citation>[^\]\s]+)\](?: <[^>\s]+>)?[ \t]*\n*\Z", re.MULTILINE
)


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in re.split(r"[,\n]", value) if v.strip()]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v is not None]
    return [str(value)]


def _as_datetime(value):
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value, dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(12), tzinfo=dt.timezone.utc)
    if isinstance(value, str) and value.strip():
        try:
            return _as_datetime(dt.datetime.fromisoformat(value.strip()))
        except ValueError:
            raise ItemError(f"front matter date {value!r} is not a date (use YYYY-MM-DD)") from None
    return None


_DAILY_NOTE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _daily_note_date(stem: str):
    """A daily note (Obsidian's `2024-03-04.md`) was written that day; None for other names."""
    if not _DAILY_NOTE.fullmatch(stem):
        return None
    try:
        return _as_datetime(dt.date.fromisoformat(stem))
    except ValueError:  # 2024-13-45
        return None


def parse_document(path: str, text: str) -> dict:
    """Title, aliases, tags, date and body of one markdown file; ItemError on bad front matter."""
    meta, body = {}, text
    match = _FRONT_MATTER.match(text)
    if match:
        try:
            meta = yaml.safe_load(match.group("yaml")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 2}" if mark else ""
            raise ItemError(f"front matter is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
        if not isinstance(meta, dict):
            raise ItemError("front matter must be a YAML mapping (key: value lines)")
        body = text[match.end():]
    citation = ""
    if paper_section := _PAPER_SECTION.search(body):
        # What the export appends after the note; it names the paper, it is not the note's text.
        body, citation = body[:paper_section.start()], paper_section.group("citation")
    body, snippets = split_snippets(body)
    stem = PurePosixPath(path).stem
    page = notion.read_page(body) if notion.is_page(stem) else {"title": None, "tags": [], "created": None}
    if page["title"] is not None:
        body = page["body"]
    prose = _INLINE_CODE.sub("", _FENCE.sub("", body))
    tags = parse_tags(",".join(
        _as_list(meta.get("tags")) + _as_list(meta.get("tag")) + page["tags"] + _INLINE_TAG.findall(prose)
    ))
    title = " ".join(str(meta.get("title") or page["title"] or notion.page_name(stem)).split())
    created = _as_datetime(meta.get("created") or meta.get("date")) or page["created"] or _daily_note_date(stem)
    return {
        "path": path, "stem": notion.page_name(stem), "title": title,
        "aliases": _as_list(meta.get("aliases") or meta.get("alias")), "tags": tags, "created": created,
        "updated": _as_datetime(meta.get("updated")), "body": body.strip("\n"),
        "snippets": snippets,
        # Lablog's own markdown export names the note's paper by arXiv id.
        "arxiv": arxiv.normalize(str(meta.get("arxiv") or "")) or "", "citation": citation,
        "lablog_key": str(meta.get("lablog_key") or "")[:300],
    }


def rewrite_links(body: str, titles: dict[str, str]) -> str:
    """[[file name]] or [[alias]] of an imported note -> [[Its Title|what the text showed]]."""

    def replace(match):
        target = match.group("target").strip()
        title = titles.get(target.casefold()) or titles.get(PurePosixPath(target).stem.casefold())
        if match.group("embed") or not title or title == target and not match.group("heading"):
            return match.group(0)
        label = match.group("label") or target + (match.group("heading") or "")
        return f"[[{title}|{label}]]" if label != title else f"[[{title}]]"

    return _outside_code(body, lambda prose: _WIKILINK.sub(replace, prose))


def rewrite_file_links(body: str, path: str, paths: dict[str, str]) -> str:
    """[label](Other%20note.md) to an imported file -> [[Its Title|label]], the link Obsidian's
    Markdown-link mode and Notion's export write between notes; other links stay as they are."""
    folder = PurePosixPath(path).parent

    def replace(match):
        href = match.group("angled") or match.group("href")
        if URL_SCHEME.match(href):
            return match.group(0)
        target = unquote(href).partition("#")[0]
        title = paths.get(posixpath.normpath((folder / target).as_posix()).casefold()) if target else None
        if not title:
            return match.group(0)
        label = " ".join(match.group("label").split())
        return f"[[{title}|{label}]]" if label and label != title else f"[[{title}]]"

    return _outside_code(body, lambda prose: _FILE_LINK.sub(replace, prose))


def _outside_code(body: str, rewrite) -> str:
    """`rewrite` applied to the text between code blocks and spans: code shows what was typed."""
    out, start = [], 0
    for code in re.finditer(f"{_FENCE.pattern}|{_INLINE_CODE.pattern}", body, re.DOTALL | re.MULTILINE):
        out += [rewrite(body[start:code.start()]), code.group(0)]
        start = code.end()
    return "".join(out + [rewrite(body[start:])])


def local_files(body: str) -> list[str]:
    """Files the note shows or links to from the vault (not URLs), as the text writes them."""
    found = [m.group("src") for m in _IMAGE.finditer(body)]
    found += [
        m.group("href") or m.group("angled") for m in _FILE_LINK.finditer(body)
        if (m.group("href") or m.group("angled")).lower().endswith(FILE_SUFFIXES)
    ]
    found += [
        m.group("target").strip() for m in _WIKILINK.finditer(body)
        if m.group("embed") and m.group("target").strip().lower().endswith(FILE_SUFFIXES)
    ]
    return list(dict.fromkeys(ref for ref in found if reference_name(ref)))


def items(files: list[tuple[str, bytes]], assets: dict[str, Callable[[], bytes]] | None = None) -> list[Item]:
    """Items for the markdown files among (relative path, bytes); a file that cannot be read fails alone.
    `assets`: the vault's images and PDFs, path -> loader, read when a note refers to them."""
    docs, broken = [], []
    for path, data in files:
        try:
            docs.append(parse_document(path, decode(data, path)))
        except ItemError as exc:
            broken.append(Item(label=path, save=_raiser(str(exc))))
    titles = {}
    for doc in docs:
        for name in [doc["stem"], doc["title"], *doc["aliases"]]:
            titles.setdefault(" ".join(name.split()).casefold(), doc["title"])
    paths = {posixpath.normpath(doc["path"]).casefold(): doc["title"] for doc in docs}
    vault = _Vault(assets or {})
    return broken + [Item(label=doc["path"], save=_saver(doc, titles, paths, vault)) for doc in docs]


class _Vault:
    """A vault's files, found as Obsidian finds them: by the path relative to the note, else
    (an embed names a file anywhere in the vault) by file name, the shortest path first."""

    def __init__(self, assets: dict[str, Callable[[], bytes]]):
        self.by_path = {posixpath.normpath(path).casefold(): load for path, load in assets.items()}
        self.by_name = {}
        for path in sorted(self.by_path, key=len):
            self.by_name.setdefault(posixpath.basename(path), self.by_path[path])

    def find(self, note_path: str, name: str) -> Callable[[], bytes] | None:
        beside = posixpath.normpath(posixpath.join(posixpath.dirname(note_path), name)).casefold()
        return self.by_path.get(beside) or self.by_name.get(posixpath.basename(name).casefold())


def _raiser(reason: str):
    def save(ctx):
        raise ItemError(reason)

    return save


def _own_note(ctx, doc: dict) -> Note | None:
    """The note this file was exported from, when it comes back to the same account."""
    pk = origin.account_pk(doc["lablog_key"], "note", ctx.user)
    return Note.objects.for_user(ctx.user).filter(pk=pk).first() if pk is not None else None


def _saver(doc: dict, titles: dict, paths: dict, vault: _Vault):
    def save(ctx):
        body = rewrite_file_links(rewrite_links(doc["body"], titles), doc["path"], paths)
        papers = Paper.objects.for_user(ctx.user)
        paper = papers.filter(arxiv_id=doc["arxiv"]).first() if doc["arxiv"] else None
        if paper is None and doc["citation"]:
            paper = papers.filter(citation_key=doc["citation"]).order_by("pk").first()
        # A Lablog export's key is kept as the source key, so the note exports with the same key.
        source_key = doc["lablog_key"] or key("md", doc["path"].casefold())
        note, created = upsert_note(
            ctx, source_key=source_key, title=doc["title"], body=body, tags=doc["tags"],
            created=doc["created"], paper=paper or ..., existing=_own_note(ctx, doc),
        )
        if created and doc["updated"]:
            # A new note was last changed when the file says, not now.
            Note.objects.filter(pk=note.pk).update(updated=doc["updated"])
        files = _attach_files(ctx, note, doc["path"], body, vault)
        snippets = doc["snippets"]
        if doc["lablog_key"] and not created:
            # A Lablog export of a note that is here: only snippets it no longer has are added back
            # (the ones it has may have been made by hand, without an import's key).
            have = {snippet_markdown(s) for s in note.snippets.all()}
            snippets = [s for s in snippets if snippet_markdown(Snippet(**s)) not in have]
            return [("notes", created), *files, *add_snippets(note, snippets, "md:snippet:")]
        return [("notes", created), *files, *replace_snippets(note, snippets, "md:snippet:")]

    return save


def _attach_files(ctx, note: Note, path: str, body: str, vault: _Vault) -> list[tuple[str, bool]]:
    """The vault's files the note refers to become the note's files; the report names the others."""
    rows = []
    for reference in local_files(body):
        name = reference_name(reference)
        load = vault.find(path, name)
        if load is None:
            ctx.report.notice(path, f"{reference} is not in the import: only the reference is kept")
            continue
        try:
            created = store(note, name, load())
        except (ValidationError, ItemError) as exc:
            reason = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
            ctx.report.notice(path, f"{reason} Only the reference is kept.")
            continue
        if created is not None:
            rows.append(("files", created))
    return rows
