"""A note's files: served only to the note's owner (never from a public media URL), attached
from the note page or pasted into the editor, and deleted from the note page."""

import posixpath
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from lablog.images import SANDBOX_HEADERS
from notes.attachments import attach_upload, served_type
from notes.models import Attachment, note_files
from notes.views.notes import own_note

@login_required
def attachment(request, pk, name):
    note = own_note(request, pk)
    # Looked up by name in the database, never joined into a filesystem path.
    item = get_object_or_404(Attachment, note=note, name=name)
    data = bytes(item.data)
    content_type, inline = served_type(item, data)
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(not inline, posixpath.basename(item.name))
    for header, value in SANDBOX_HEADERS.items():
        response[header] = value
    return response


def render_files(request, note, *, error: str = "", added: str = "", status: int = 200):
    """The note's Files section (what the attach and delete endpoints answer)."""
    context = {"note": note, "files": note_files(note), "file_error": error, "file_added": added}
    return render(request, "notes/_files.html", context, status=status)


@login_required
@require_POST
def attachment_add(request, pk):
    """Attach an uploaded file under its own name (a file of that name is replaced); the
    editor's paste and drop send here too and insert the reference this answers with."""
    note = own_note(request, pk)
    upload = request.FILES.get("file")
    name, error = "", ""
    try:
        if upload is None:
            raise ValidationError("Choose a file to attach.")
        name, _ = attach_upload(note, upload)
    except ValidationError as exc:
        error = exc.messages[0]
    if not request.htmx:  # a browser without JavaScript: the reason on the note page
        if error:
            messages.error(request, error)
        return redirect(f"{note.get_absolute_url()}#files")
    response = render_files(request, note, error=error, added="" if error else name, status=422 if error else 200)
    if not error:
        response["X-Attached-Name"] = quote(name)  # the editor inserts ![[name]] for a pasted image
    return response


@login_required
@require_POST
def attachment_delete(request, pk, name):
    note = own_note(request, pk)
    note.attachments.filter(name=name).delete()
    if not request.htmx:
        return redirect(f"{note.get_absolute_url()}#files")
    return render_files(request, note)
