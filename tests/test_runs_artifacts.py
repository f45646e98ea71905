"""Artifacts are served by an auth-checked view that never lets a file run script in our origin."""

import io

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image

from notes.models import Note
from workers.models import Run, Runnable

pytestmark = pytest.mark.django_db


def png_bytes(fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (6, 6), (200, 10, 10)).save(buf, format=fmt)
    return buf.getvalue()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
HTML_BEHIND_PNG_HEADER = b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>"


@pytest.fixture
def run(user):
    note = Note.objects.create_note(user, title="Artifacts")
    run = Run.objects.create(runnable=Runnable.objects.create(note=note, kind="cfg_diffusion", params={}), params={})
    assert run.claim("me", "host")
    for name, data, content_type in [
        ("grid.png", png_bytes(), "image/png"),
        ("photo.jpg", png_bytes("JPEG"), "image/jpeg"),
        ("evil.png", SVG, "image/png"),
        ("fake.png", HTML_BEHIND_PNG_HEADER, "image/png"),
        ("metrics.json", b'{"accuracy": 1}', "application/json"),
        ("table.csv", b"a,b\n1,2\n", "text/csv"),
        ("page.html", b"<script>alert(1)</script>", "text/html"),
    ]:
        run.save_artifact("me", name, data, content_type)
    run.finish("me", Run.SUCCEEDED)
    return run


def get(client, run, name):
    return client.get(reverse("workers:artifact", args=[run.pk, name]))


def assert_locked_down(response):
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "default-src 'none'" in response["Content-Security-Policy"]


def test_verified_png_and_jpeg_are_served_inline_as_images(auth_client, run):
    for name, content_type in [("grid.png", "image/png"), ("photo.jpg", "image/jpeg")]:
        response = get(auth_client, run, name)
        assert response.status_code == 200
        assert response["Content-Type"] == content_type
        assert response["Content-Disposition"].startswith("inline")
        assert_locked_down(response)


@pytest.mark.parametrize("name", ["evil.png", "fake.png"])
def test_svg_or_html_named_png_is_a_download_never_an_image(auth_client, run, name):
    response = get(auth_client, run, name)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert_locked_down(response)


def test_non_images_are_attachments_with_their_type(auth_client, run):
    assert get(auth_client, run, "metrics.json")["Content-Type"].startswith("application/json")
    csv = get(auth_client, run, "table.csv")
    assert csv["Content-Type"].startswith("text/csv") and csv["Content-Disposition"].startswith("attachment")
    html = get(auth_client, run, "page.html")
    assert html["Content-Type"] == "application/octet-stream" and html["Content-Disposition"].startswith("attachment")
    assert_locked_down(html)


def test_note_panel_shows_only_verified_images_inline(auth_client, run):
    html = auth_client.get(reverse("workers:note_runnables", args=[run.runnable.note_id])).content.decode()
    assert f'<img src="/runs/{run.pk}/artifacts/grid.png"' in html
    assert f'href="/runs/{run.pk}/artifacts/table.csv" download' in html


def test_path_traversal_finds_nothing(auth_client, run):
    secret = default_storage.save("secret.txt", io.BytesIO(b"top secret"))
    for name in ["../secret.txt", "..%2Fsecret.txt", f"../../{secret}", "%2e%2e/secret.txt", "/etc/passwd"]:
        response = auth_client.get(f"/runs/{run.pk}/artifacts/{name}")
        assert response.status_code == 404, name
        assert b"top secret" not in response.content
    default_storage.delete(secret)


def test_bad_artifact_names_are_refused_when_written(run):
    fresh = Run.objects.create(runnable=run.runnable, params={})
    assert fresh.claim("w", "host")
    for name in ["../x.png", ".hidden", "a/b.png", ""]:
        with pytest.raises(ValueError):
            fresh.save_artifact("w", name, b"x", "text/plain")
