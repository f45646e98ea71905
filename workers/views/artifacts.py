"""Run artifacts, served only to the owner of the run's note, never from a public media URL.

Only a file that is a PNG or JPEG by its first bytes AND decodes as one is served inline as an
image; anything else is a download (`Content-Disposition: attachment`, octet-stream for unknown
types). Every response forbids sniffing and sandboxes the document, so an SVG or HTML file
behind a PNG name or header can never run script in the app's origin.
"""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404

from workers.models import Run, RunArtifact

SIGNATURES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
PIL_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG"}
DOWNLOAD_TYPES = {"application/json", "text/csv", "text/plain", "text/markdown"}


def verified_image_type(data: bytes) -> str | None:
    """image/png or image/jpeg when the bytes start like one and decode as one, else None."""
    import io

    from PIL import Image

    for content_type, magic in SIGNATURES.items():
        if data.startswith(magic):
            try:
                with Image.open(io.BytesIO(data), formats=[PIL_FORMATS[content_type]]) as img:
                    img.load()
            except Exception:
                return None
            return content_type
    return None


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
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, max-age=3600"
    return response
