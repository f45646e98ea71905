"""Run artifacts, served only to the owner of the run's note, never from a public media URL.

Only a file that is an image by its first bytes AND decodes as one (`lablog.images`) is served inline as an
image; anything else is a download (`Content-Disposition: attachment`, octet-stream for unknown
types). Every response forbids sniffing and sandboxes the document, so an SVG or HTML file
behind a PNG name or header can never run script in the app's origin.
"""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404

from lablog.images import SANDBOX_HEADERS, verified_image_type
from workers.models import Run, RunArtifact

DOWNLOAD_TYPES = {"application/json", "text/csv", "text/plain", "text/markdown"}


@login_required
def artifact(request, run_id, name):
    run = get_object_or_404(Run.objects.for_user(request.user), pk=run_id)
    # Looked up by name in the database, never joined into a filesystem path.
    item = get_object_or_404(RunArtifact, run=run, name=name)
    try:
        data = item.read_bytes()  # from the row, or the default storage for a large file
    except FileNotFoundError:
        raise Http404("artifact file missing") from None
    image_type = verified_image_type(data) if item.is_image else None
    if image_type:
        response = HttpResponse(data, content_type=image_type)
        response["Content-Disposition"] = f'inline; filename="{item.name}"'
    else:
        content_type = item.content_type if item.content_type in DOWNLOAD_TYPES else "application/octet-stream"
        if content_type.startswith("text/") or content_type == "application/json":
            content_type += "; charset=utf-8"
        response = HttpResponse(data, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{item.name}"'
    for header, value in SANDBOX_HEADERS.items():
        response[header] = value
    return response
