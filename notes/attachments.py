"""A note's files: kept by name as the note's text refers to them, and shown where it does.

The text is never rewritten for them: `![[Pasted image 1.png]]`, `![plot](images/a.png)` and
`[slides](files/talk.pdf)` stay as the author wrote them (so a vault exports back unchanged),
and the note page points those references at the note's files when it shows the note.
"""

import hashlib
import mimetypes
import posixpath
import re
from html import escape, unescape
from urllib.parse import unquote

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse

from lablog.images import verified_image_type
from notes.models import Attachment, Note

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp")
FILE_SUFFIXES = (*IMAGE_SUFFIXES, ".pdf")
KINDS_ALLOWED = "images (PNG, JPEG, GIF, WebP, SVG, BMP) and PDFs"
URL_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def reference_name(reference: str) -> str | None:
    """The attachment name a reference in a note's text means (`images/a%20b.png` ->
    `images/a b.png`), or None for an address elsewhere (a URL, an absolute path, `..`)."""
    reference = unescape(reference).strip()
    if not reference or URL_SCHEME.match(reference) or reference.startswith(("/", "#")):
        return None
    name = posixpath.normpath(unquote(reference.split("#", 1)[0].split("?", 1)[0]).removeprefix("./"))
    if name in (".", "") or name.startswith("../") or name == "..":
        return None
    return name[:500]


def upload_name(filename: str) -> str:
    """The name an uploaded file is kept under (its own, without folders); ValidationError
    for a kind of file a note does not keep."""
    name = reference_name(posixpath.basename((filename or "").replace("\\", "/")))
    if not name or not name.lower().endswith(FILE_SUFFIXES):
        raise ValidationError(f"“{(filename or '')[:80]}” cannot be attached: a note keeps {KINDS_ALLOWED}.")
    return name


def check_size(name: str, size: int) -> None:
    limit = settings.NOTE_ATTACHMENT_MAX_BYTES
    if size > limit:
        raise ValidationError(f"{name} is {size:,} bytes, over the limit of {limit:,} for a note's file.")


def store(note: Note, name: str, data: bytes) -> bool | None:
    """Keep `data` as the note's file `name`: True when created, False when replaced, None when
    the note already has exactly these bytes under that name."""
    check_size(name, len(data))
    digest = hashlib.sha256(data).hexdigest()
    existing = note.attachments.filter(name=name).values_list("sha256", flat=True).first()
    if existing == digest:
        return None
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    fields = {"content_type": content_type, "size": len(data), "sha256": digest, "data": data}
    Attachment.objects.update_or_create(note=note, name=name, defaults=fields)
    return existing is None


def attach_upload(note: Note, upload) -> tuple[str, bool | None]:
    """An uploaded file (the note page, the editor's paste, the API) kept under its own name:
    (name, what `store` says); ValidationError for another kind of file or one over the limit."""
    name = upload_name(upload.name)
    check_size(name, upload.size)  # before reading it into memory
    return name, store(note, name, upload.read())


def served_type(attachment: Attachment, data: bytes) -> tuple[str, bool]:
    """(content type, inline): a raster image that decodes as one is shown; an SVG is shown too,
    as an image under the sandbox headers (no script runs); anything else is a download."""
    if image := verified_image_type(data):
        return image, True
    if attachment.name.lower().endswith(".svg") and b"<svg" in data[:4096].lower():
        return "image/svg+xml", True
    return "application/octet-stream", False


# The rendered body's references: the span Obsidian's `![[file]]` renders to, and `src`/`href`
# attributes (nh3 writes every attribute in double quotes).
_EMBED = re.compile(r'<span class="embedded-file" title="[^"]*">(?P<name>[^<]*)</span>')
_ADDRESS = re.compile(r'(?P<attr><img src|<a href)="(?P<url>[^"]*)"')


def show_in_html(html: str, note: Note) -> str:
    """The note's rendered body with its references to its own files pointing at them."""
    names = set(note.attachments.values_list("name", flat=True))
    if not names:
        return html
    by_basename = {}
    for name in sorted(names, key=len):  # Obsidian finds `![[a.png]]` anywhere: the shortest path wins
        by_basename.setdefault(posixpath.basename(name), name)

    def url(name: str) -> str:
        return reverse("notes:attachment", args=[note.pk, name])

    def embed(match):
        written = unescape(match.group("name"))
        name = reference_name(written)
        name = name if name in names else by_basename.get(posixpath.basename(name or ""))
        if not name:
            return match.group(0)
        if name.lower().endswith(IMAGE_SUFFIXES):
            return f'<img src="{escape(url(name))}" alt="{escape(written)}">'
        return f'<a href="{escape(url(name))}">{escape(written)}</a>'

    def address(match):
        name = reference_name(match.group("url"))
        if name not in names:
            return match.group(0)
        return f'{match.group("attr")}="{escape(url(name))}"'

    return _ADDRESS.sub(address, _EMBED.sub(embed, html))
