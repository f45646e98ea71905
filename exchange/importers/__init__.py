"""Import entry points: detect the format, read files, folders and zips safely, and
run every item in its own transaction. The shell command, the web import task and
the tests all call `import_bytes` or `import_path`."""

import io
import re
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Callable

from django.conf import settings

from exchange.importers import bibtex, blog_feed, csl_json, lablog_json, markdown, paper_list, research_log, ris
from exchange.importers.base import Context, Item, ItemError, Report, decode, run_items
from notes.attachments import FILE_SUFFIXES, check_size

FORMATS = {
    "log": "Research log (plain text)",
    "papers": "Paper listing page (pasted text)",
    "feed": "Blog/article feed (pasted text)",
    "markdown": "Markdown: a file, or a zip of a vault",
    "bibtex": "BibTeX (.bib)",
    "ris": "RIS (.ris, from Zotero, Mendeley or EndNote)",
    "csl": "CSL JSON (.json, from Zotero, Mendeley or Pandoc)",
    "json": "Lablog JSON export",
}
_TEXT_IMPORTERS = {
    "log": research_log.items, "papers": paper_list.items, "feed": blog_feed.items,
    "bibtex": bibtex.items, "ris": ris.items, "csl": csl_json.items, "json": lablog_json.items,
}
Progress = Callable[[int, int], None]
# Files of references in a vault or folder: their papers come in with its notes.
_REFERENCE_FILES = {".bib": bibtex.items, ".ris": ris.items, ".json": csl_json.library_items}
# What a vault's notes are made of: their text and the references beside them.
_TEXT_SUFFIXES = (*markdown.MARKDOWN_SUFFIXES, *_REFERENCE_FILES)


def detect(name: str, data: bytes) -> str:
    """The format of an upload, from its name and its first bytes and lines."""
    suffix = PurePosixPath(name.lower()).suffix
    if data[:4] == b"PK\x03\x04" or suffix == ".zip":
        return "markdown"
    if suffix == ".bib":
        return "bibtex"
    if suffix == ".ris":
        return "ris"
    if suffix in markdown.MARKDOWN_SUFFIXES:
        return "markdown"
    head = data[:200_000].decode("utf-8", "replace")
    if csl_json.looks_like(head):
        return "csl"
    if suffix == ".json" or lablog_json.looks_like(head):
        return "json"
    if re.search(r"^\s*@\s*[A-Za-z]+\s*\{\s*[^\s,{}]+\s*,", head, re.M):
        return "bibtex"
    if ris.looks_like(head):
        return "ris"
    if blog_feed.parse(head):
        return "feed"
    log_references = sum(1 for line in head.split("\n") if research_log.is_reference(line))
    if paper_list.parse(head) and log_references < 2:
        return "papers"
    if log_references:
        return "log"
    return "markdown"


def _unsafe(name: str) -> bool:
    """Zip slip: an absolute path, a drive letter or a `..` step."""
    posix = name.replace("\\", "/")
    return posix.startswith("/") or bool(re.match(r"^[A-Za-z]:", posix)) or ".." in posix.split("/")


Vault = tuple[list[tuple[str, bytes]], dict[str, Callable[[], bytes]]]


def read_zip(data: bytes, report: Report) -> Vault:
    """The zip's text files as (path, bytes), within the caps in settings, and its images and PDFs
    as path -> loader: only the ones a note refers to are ever read (a vault's other attachments
    cost nothing). Unsafe entries are reported and skipped. A zip inside it is read too, once
    deep (Notion splits a large export into zips within a zip)."""
    texts, assets = [], {}
    _read_archive(data, report, _Caps(), texts, assets)
    return texts, assets


class _Caps:
    """What is left of the caps, shared by a zip and the zips within it."""

    def __init__(self):
        self.files, self.inflated_bytes = 0, settings.EXCHANGE_ZIP_MAX_UNCOMPRESSED_BYTES


def _read_archive(data: bytes, report: Report, caps: _Caps, texts: list, assets: dict, inside: str = "") -> None:
    """`inside`: the name of the zip this one was found in."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        if inside:
            report.fail(inside, "not a valid zip file: skipped")
            return
        raise ItemError("not a valid zip file") from None
    entries = [e for e in archive.infolist() if not e.is_dir()]
    caps.files += len(entries)
    if caps.files > settings.EXCHANGE_ZIP_MAX_FILES:
        raise ItemError(f"the zip holds {caps.files:,} files, over the limit of {settings.EXCHANGE_ZIP_MAX_FILES:,}")
    for entry in entries:
        if _unsafe(entry.filename):
            report.fail(entry.filename, "unsafe path in zip (absolute or with ..): skipped")
            continue
        if entry.file_size > max(entry.compress_size, 1) * settings.EXCHANGE_ZIP_MAX_RATIO and entry.file_size > 1_000_000:
            report.fail(entry.filename, f"inflates {entry.file_size // max(entry.compress_size, 1):,}×: refused as a zip bomb")
            continue
        name = entry.filename.lower()
        if name.endswith(FILE_SUFFIXES):
            assets[entry.filename] = _entry_loader(archive, entry)
            continue
        inner_zip = not inside and name.endswith(".zip")
        if not inner_zip and not name.endswith(_TEXT_SUFFIXES):
            continue
        # Read no more than the budget left, whatever the header claims (headers can lie).
        try:
            with archive.open(entry) as fh:
                content = fh.read(caps.inflated_bytes + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            # One damaged file (bad CRC, truncated data) fails alone; the rest of the zip comes in.
            report.fail(entry.filename, f"damaged in the zip ({exc}): skipped")
            continue
        if len(content) > caps.inflated_bytes:
            raise ItemError(
                f"the zip inflates past {settings.EXCHANGE_ZIP_MAX_UNCOMPRESSED_BYTES:,} bytes: refused as a zip bomb"
            )
        if not inner_zip:
            caps.inflated_bytes -= len(content)
            texts.append((entry.filename, content))
        else:  # its files count against the caps as they are read
            _read_archive(content, report, caps, texts, assets, inside=entry.filename)


def _entry_loader(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> Callable[[], bytes]:
    """Reads the entry when a note refers to it, never past a note file's size limit."""

    def load() -> bytes:
        check_size(entry.filename, entry.file_size)
        try:
            with archive.open(entry) as fh:
                data = fh.read(settings.NOTE_ATTACHMENT_MAX_BYTES + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise ItemError(f"{entry.filename} is damaged in the zip ({exc})") from None
        check_size(entry.filename, len(data))  # the header said less
        return data

    return load


def _path_loader(path: Path) -> Callable[[], bytes]:
    def load() -> bytes:
        check_size(path.name, path.stat().st_size)
        return path.read_bytes()

    return load


def _file_items(vault: Vault, report: Report) -> list[Item]:
    """Markdown files of a vault become notes, `.bib`, `.ris` and CSL JSON files in it papers,
    images and PDFs the notes refer to the notes' files."""
    files, assets = vault
    items = []
    for path, content in files:
        reader = _REFERENCE_FILES.get(PurePosixPath(path.lower()).suffix)
        if reader:
            try:
                items += reader(decode(content, path), path)
            except ItemError as exc:
                report.fail(path, str(exc))
    notes = [(p, c) for p, c in files if p.lower().endswith(markdown.MARKDOWN_SUFFIXES)]
    return items + markdown.items(notes, assets)


def build_items(name: str, data: bytes, fmt: str, report: Report) -> list[Item]:
    if fmt == "markdown":
        if data[:4] == b"PK\x03\x04" or name.lower().endswith(".zip"):
            return _file_items(read_zip(data, report), report)
        return markdown.items([(PurePosixPath(name).name or "pasted.md", data)])
    if fmt not in _TEXT_IMPORTERS:
        raise ItemError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    return _TEXT_IMPORTERS[fmt](decode(data, name), name)


def import_bytes(user, name: str, data: bytes, fmt: str | None = None, progress: Progress | None = None) -> Report:
    """Import one upload (a file's bytes or pasted text); never raises for bad input, the report says."""
    report = Report()
    try:
        fmt = fmt or detect(name, data)
        items = build_items(name, data, fmt, report)
    except ItemError as exc:
        report.fail(name, str(exc))
        return report
    return run_items(Context(user=user, report=report), items, progress)


def import_path(user, path: Path, fmt: str | None = None, progress: Progress | None = None) -> Report:
    """Import a file, or a folder of markdown (and .bib, .ris) files, from disk."""
    if not path.is_dir():
        return import_bytes(user, path.name, path.read_bytes(), fmt, progress)
    report = Report()
    found = [
        (p.relative_to(path).as_posix(), p) for p in sorted(path.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    ]
    texts = [(name, p.read_bytes()) for name, p in found if name.lower().endswith(_TEXT_SUFFIXES)]
    assets = {name: _path_loader(p) for name, p in found if name.lower().endswith(FILE_SUFFIXES)}
    return run_items(Context(user=user, report=report), _file_items((texts, assets), report), progress)
