"""A note's files over the API: list, attach (multipart, field `file`), download and delete:
the files the note page shows (notes.attachments), with the same checks and headers."""

from datetime import datetime
from urllib.parse import quote

from django.shortcuts import get_object_or_404
from django.urls import get_script_prefix
from ninja import File, Path, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status

from api.schemas import MAX_ID, Error
from notes.attachments import attach_upload
from notes.models import Attachment, Note, note_files

router = Router(tags=["files"])
Id = Path(..., ge=1, le=MAX_ID)
ERRORS = {400: Error, 401: Error, 404: Error, 413: Error, 422: Error}


class FileOut(Schema):
    name: str
    content_type: str
    size: int
    sha256: str
    created: datetime
    download: str


def _out(item: Attachment) -> dict:
    fields = {f: getattr(item, f) for f in ("name", "content_type", "size", "sha256", "created")}
    return {**fields, "download": f"{get_script_prefix()}api/notes/{item.note_id}/files/{quote(item.name)}"}


def _note(request, note_id: int) -> Note:
    return get_object_or_404(Note.objects.for_user(request.auth), pk=note_id)


@router.get("/notes/{note_id}/files", response={200: list[FileOut], **ERRORS})
def list_files(request, note_id: int = Id):
    return [_out(item) for item in note_files(_note(request, note_id))]


@router.post("/notes/{note_id}/files", response={200: FileOut, 201: FileOut, **ERRORS})
def attach_file(request, note_id: int = Id, file: UploadedFile = File(...)):
    """Kept under the file's own name: 201 when new, 200 when it replaced (or equals) the file of that name."""
    note = _note(request, note_id)
    name, created = attach_upload(note, file)  # a ValidationError is the API's 422
    return Status(201 if created else 200, _out(note_files(note).get(name=name)))


@router.get("/notes/{note_id}/files/{path:name}", response={200: None, **ERRORS})
def download_file(request, name: str, note_id: int = Id):
    """The file, with the same type checks and headers as the note page's link."""
    from notes.views.attachments import attachment

    request.user = request.auth
    return attachment.__wrapped__(request, pk=note_id, name=name)


@router.delete("/notes/{note_id}/files/{path:name}", response={204: None, **ERRORS})
def delete_file(request, name: str, note_id: int = Id):
    get_object_or_404(Attachment, note=_note(request, note_id), name=name).delete()
    return Status(204, None)
