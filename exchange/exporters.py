"""Everything a user has, out: Lablog JSON (read back losslessly by the JSON importer;
runnables, runs and artifact bytes included),
a zip of markdown files with front matter (an Obsidian vault; papers as `.bib`), and
one note as markdown."""

import io
import json
import re
import zipfile

import yaml
from django.utils import timezone

from exchange import origin, run_export
from notes.models import Note, Paper, Tag
from search.models import DismissedRelated

FORMAT = "lablog"
# 2 adds the origin, dismissed suggestions and runnables with their runs and artifacts.
VERSION = 2
READABLE_VERSIONS = (1, 2)


def item_key(obj, kind: str) -> str:
    """The key an exported item is known by: its import source key, else its id here."""
    return obj.source_key or f"lablog:{kind}:{obj.pk}"


def _iso(value):
    return value.isoformat() if value else None


def export_data(user) -> dict:
    papers = Paper.objects.for_user(user).order_by("pk")
    notes = (
        Note.objects.for_user(user).order_by("pk").select_related("paper")
        .prefetch_related("tags", "revisions", "snippets", "outgoing_links", "attachments")
    )
    dismissed = {}
    for note_id, other_id in DismissedRelated.objects.filter(user=user).values_list("note_id", "other_id"):
        dismissed.setdefault(note_id, []).append(other_id)
    keys = {n.pk: item_key(n, "note") for n in notes}
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported": timezone.now().isoformat(),
        "origin": origin.fingerprint(user),
        "tags": list(Tag.objects.for_user(user).order_by("name").values_list("name", flat=True)),
        "papers": [
            {
                "key": item_key(p, "paper"), "title": p.title, "authors": p.authors, "year": p.year, "venue": p.venue,
                "author_count": p.author_count, "published": _iso(p.published),
                "arxiv_id": p.arxiv_id, "doi": p.doi, "url": p.url, "abstract": p.abstract,
                "citation_key": p.citation_key, "created": _iso(p.created),
            }
            for p in papers
        ],
        "notes": [
            {
                "key": item_key(n, "note"), "title": n.title, "body": n.body, "tags": sorted(n.tag_names()),
                "paper": item_key(n.paper, "paper") if n.paper else None, "version": n.version,
                "searchable": n.searchable, "created": _iso(n.created), "updated": _iso(n.updated),
                "links": sorted(link.target_title for link in n.outgoing_links.all()),
                "revisions": [
                    {"version": r.version, "title": r.title, "body": r.body, "tags": r.tags, "created": _iso(r.created)}
                    for r in sorted(n.revisions.all(), key=lambda r: r.version)
                ],
                "snippets": [
                    {
                        "key": item_key(s, "snippet"), "kind": s.kind, "text": s.text, "locator": s.locator,
                        "language": s.language, "url": s.url, "comment": s.comment, "position": s.position,
                        "created": _iso(s.created),
                    }
                    for s in n.snippets.all()
                ],
                # Related-note suggestions dismissed on this note, by the other note's key.
                "dismissed": sorted(keys[other] for other in dismissed.get(n.pk, []) if other in keys),
                "runnables": run_export.runnables_data(n),
                "files": [
                    run_export.file_data(a.name, a.content_type, bytes(a.data), a.created)
                    for a in sorted(n.attachments.all(), key=lambda a: a.name)
                ],
            }
            for n in notes
        ],
    }


def export_json(user) -> bytes:
    return json.dumps(export_data(user), ensure_ascii=False, indent=1).encode("utf-8")


# --- Markdown ---------------------------------------------------------------------------

def _front_matter(meta: dict) -> str:
    meta = {k: v for k, v in meta.items() if v not in (None, "", [])}
    return "---\n" + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000) + "---\n"


def snippet_markdown(snippet) -> str:
    """One snippet in the `## Snippets` section; importers/markdown_snippets.py reads it back."""
    if snippet.kind == snippet.CODE:
        fence = "````" if "```" in snippet.text else "```"
        text = f"{fence}{snippet.language}\n{snippet.text}\n{fence}"
    elif snippet.kind == snippet.EQUATION:
        text = f"$$\n{snippet.text}\n$$"
    elif snippet.kind == snippet.LINK:
        # An autolink ends at the first `>` and cannot hold `<` or spaces: those are percent-encoded.
        url = re.sub(r"[<>\s]", lambda m: "%{:02X}".format(ord(m.group(0))), snippet.url)
        text = f"<{url}>" + (f" {snippet.text}" if snippet.text else "")
    else:
        text = "\n".join(f"> {line}" for line in snippet.text.split("\n"))
        if snippet.locator:
            text += f"\n> — {snippet.locator}"
    if snippet.comment:
        text += f"\n\n{snippet.comment}"
    return text


def note_markdown(note) -> str:
    """One note as a markdown file: front matter, the body, its snippets, its paper and its links."""
    meta = {
        "title": note.title, "tags": sorted(note.tag_names()), "date": note.created.date().isoformat(),
        "created": note.created.isoformat(), "updated": note.updated.isoformat(),
        "paper": note.paper.title if note.paper else None,
        "arxiv": note.paper.arxiv_id if note.paper else None,
        # Importing the file again finds this note: in its own account by id, elsewhere by this key.
        "lablog_key": note.source_key or origin.account_key(note.user, "note", note.pk),
    }
    parts = [_front_matter(meta), note.body.rstrip("\n") + "\n"]
    snippets = list(note.snippets.all())
    if snippets:
        parts.append("\n## Snippets\n\n" + "\n\n".join(snippet_markdown(s) for s in snippets) + "\n")
    if note.paper:
        citation = note.paper.citation_key or bib_key(note.paper)
        parts.append(f"\n## Paper\n\n{note.paper.title} [@{citation}]" + (
            f" <{note.paper.arxiv_url}>" if note.paper.arxiv_id else "") + "\n")
    return "".join(parts)


def safe_filename(title: str) -> str:
    """A file name Obsidian, Windows and macOS all accept, from a note title."""
    name = re.sub(r'[\\/:*?"<>|#^\[\]\x00-\x1f]', " ", title)
    name = " ".join(name.split()).strip(". ")[:120]
    return name or "Untitled"


def bib_key(paper) -> str:
    return paper.citation_key or (f"arxiv{paper.arxiv_id}".replace("/", "_").replace(".", "_")
                                  if paper.arxiv_id else f"paper{paper.pk}")


# What the BibTeX importer's clean_latex would read as markup, written so it reads back as
# itself: braces and backslashes escaped, and `--`, ``` `` ```, `''` split by an empty group.
_BIB_ESCAPES = {"\\": "\\textbackslash{}", "{": "\\{", "}": "\\}", "~": "\\textasciitilde{}",
                "-": "-{}", "`": "`{}", "'": "'{}"}
_BIB_SPECIAL = re.compile(r"[\\{}~]|-(?=-)|`(?=`)|'(?=')")


def _bib_value(text: str) -> str:
    return _BIB_SPECIAL.sub(lambda m: _BIB_ESCAPES[m.group(0)], text)


def paper_bibtex(paper) -> str:
    fields = {
        "title": paper.title, "author": " and ".join(paper.author_list), "year": paper.year or "",
        # biblatex reads `date`; BibTeX styles read `month` (a macro, so written bare below).
        "date": _iso(paper.published) or "", "month": paper.published.strftime("%b").lower() if paper.published else "",
        "journal": paper.venue, "eprint": paper.arxiv_id, "archivePrefix": "arXiv" if paper.arxiv_id else "",
        "doi": paper.doi, "url": paper.url, "abstract": paper.abstract,
        # Not a standard field (styles ignore it): how many authors, when the list is not known.
        "authorcount": paper.author_count if paper.author_count is not None and not paper.authors else "",
    }
    body = ",\n".join(
        f"  {name} = {value}" if name == "month" else f"  {name} = {{{_bib_value(str(value))}}}"
        for name, value in fields.items() if value
    )
    kind = "article" if paper.venue else "misc"
    return f"@{kind}{{{bib_key(paper)},\n{body}\n}}\n"


def export_markdown_zip(user) -> bytes:
    """A vault: `notes/<title>.md` (a title used twice gets ` (2)`), each note's files where its
    text refers to them (`notes/images/a.png` for `images/a.png`), and `papers.bib`."""
    buffer = io.BytesIO()
    used = set()
    notes = Note.objects.for_user(user).order_by("created", "pk").select_related("paper").prefetch_related(
        "tags", "snippets", "attachments"
    )
    files = {}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for note in notes:
            base = safe_filename(note.title)
            name, n = base, 1
            while name.casefold() in used:
                n += 1
                name = f"{base} ({n})"
            used.add(name.casefold())
            archive.writestr(f"notes/{name}.md", note_markdown(note))
            for attachment in note.attachments.all():
                # Two notes' files of one name and the same bytes are one file; of other bytes the
                # first is kept (a vault has one file per path), which the second note then shows.
                files.setdefault(f"notes/{attachment.name}", bytes(attachment.data))
        for path, data in files.items():
            archive.writestr(path, data)
        papers = Paper.objects.for_user(user).order_by("pk")
        archive.writestr("papers.bib", "\n".join(paper_bibtex(p) for p in papers))
    return buffer.getvalue()
