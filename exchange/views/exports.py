from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from exchange.exporters import export_json, export_markdown_zip, note_markdown, safe_filename
from notes.models import Note


def _download(data: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def export_page(request):
    return render(request, "exchange/export.html")


@login_required
def export_everything_json(request):
    stamp = timezone.now().strftime("%Y-%m-%d")
    return _download(export_json(request.user), "application/json", f"lablog-{stamp}.json")


@login_required
def export_everything_markdown(request):
    stamp = timezone.now().strftime("%Y-%m-%d")
    return _download(export_markdown_zip(request.user), "application/zip", f"lablog-{stamp}.zip")


@login_required
def export_note_markdown(request, pk):
    note = get_object_or_404(Note.objects.for_user(request.user).select_related("paper"), pk=pk)
    filename = safe_filename(note.title).encode("ascii", "replace").decode().replace('"', "'")
    return _download(note_markdown(note).encode("utf-8"), "text/markdown; charset=utf-8", f"{filename}.md")
