"""A note's files, served only to the note's owner, never from a public media URL."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.http import content_disposition_header

from lablog.images import SANDBOX_HEADERS
from notes.attachments import served_type
from notes.models import Attachment
from notes.views.notes import own_note


@login_required
def attachment(request, pk, name):
    note = own_note(request, pk)
    # Looked up by name in the database, never joined into a filesystem path.
    item = get_object_or_404(Attachment, note=note, name=name)
    data = bytes(item.data)
    content_type, inline = served_type(item, data)
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(not inline, item.name.rsplit("/", 1)[-1])
    for header, value in SANDBOX_HEADERS.items():
        response[header] = value
    return response
