"""A vault's images and PDFs come in as the notes' files: shown where the note shows them, served
only to the owner, never as a document that could run script, and carried by both exports."""

import io
import zipfile
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from exchange.exporters import export_json, export_markdown_zip
from exchange.importers import import_bytes, import_path
from notes.models import Attachment, Note
from tests.test_import_markdown import vault as zipped

NOTE = """# Attention

The map: ![diagram](images/attention%20map.png)

Pasted from the paper: ![[Pasted image 20240304.png]]

The [slides](files/talk.pdf) and ![[missing.png]] and ![web](https://example.org/x.png).
"""


def image_bytes(fmt: str, color: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), color).save(buffer, format=fmt)
    return buffer.getvalue()


MAP, PASTED, PDF = image_bytes("PNG", "red"), image_bytes("JPEG", "blue"), b"%PDF-1.4\n% a talk\n%%EOF\n"


def vault(**changes) -> bytes:
    files = {
        "Vault/Attention.md": NOTE, "Vault/images/attention map.png": MAP,
        # Obsidian keeps pasted images in a folder of their own and embeds them by name.
        "Vault/attachments/Pasted image 20240304.png": PASTED, "Vault/files/talk.pdf": PDF,
        "Vault/images/unused.png": MAP,
    }
    return zipped({**files, **changes})


def file_urls(note) -> dict[str, str]:
    return {a.name: a.get_absolute_url() for a in note.attachments.all()}


@pytest.fixture
def imported(user):
    report = import_bytes(user, "vault.zip", vault()).as_dict()
    return report, Note.objects.get(user=user)


def test_a_vaults_images_and_pdfs_become_the_notes_files_shown_where_the_note_shows_them(imported, client, user):
    report, note = imported
    assert report["created"]["files"] == 3 and report["failed"] == []
    assert sorted(file_urls(note)) == ["Pasted image 20240304.png", "files/talk.pdf", "images/attention map.png"]
    messages = [n["message"] for n in report["notices"]]
    assert messages == ["missing.png is not in the import: only the reference is kept"]
    assert note.body == NOTE.strip("\n")  # the text is the author's, unchanged
    client.force_login(user)
    page = client.get(note.get_absolute_url()).content.decode()
    base = f"/notes/{note.pk}/files/"
    assert f'<img src="{base}images/attention%20map.png" alt="diagram">' in page
    assert f'<img src="{base}Pasted%20image%2020240304.png" alt="Pasted image 20240304.png">' in page
    assert f'<a href="{base}files/talk.pdf">slides</a>' in page
    assert 'class="embedded-file" title="A file this note embeds but does not have' in page  # missing.png
    served = client.get(f"{base}images/attention%20map.png")
    assert (served.status_code, served["Content-Type"], served.content) == (200, "image/png", MAP)
    assert served["Content-Disposition"].startswith("inline") and "sandbox" in served["Content-Security-Policy"]
    assert client.get(f"{base}Pasted%20image%2020240304.png")["Content-Type"] == "image/jpeg"
    pdf = client.get(f"{base}files/talk.pdf")
    assert pdf.content == PDF and pdf["Content-Disposition"] == 'attachment; filename="talk.pdf"'


def test_a_notes_files_are_served_to_its_owner_only(imported, client, other_user):
    _, note = imported
    url = file_urls(note)["images/attention map.png"]
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(other_user)
    assert client.get(url).status_code == 404
    assert client.get(f"/notes/{note.pk}/files/../../../etc/passwd").status_code == 404


def test_a_file_that_only_claims_to_be_an_image_is_a_download_and_an_svg_cannot_run_script(user, client):
    page = "![a](fake.png) ![b](drawing.svg)"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script><rect width="4" height="4"/></svg>'
    import_bytes(user, "vault.zip", zipped({"n.md": page, "fake.png": b"<html><script>alert(1)</script>", "drawing.svg": svg}))
    note = Note.objects.get(user=user)
    client.force_login(user)
    fake = client.get(file_urls(note)["fake.png"])
    assert fake["Content-Type"] == "application/octet-stream" and fake["Content-Disposition"].startswith("attachment")
    drawing = client.get(file_urls(note)["drawing.svg"])
    assert drawing["Content-Type"] == "image/svg+xml" and "sandbox" in drawing["Content-Security-Policy"]
    assert drawing["X-Content-Type-Options"] == "nosniff"


def test_importing_the_vault_again_adds_nothing_and_a_changed_image_replaces_the_old(imported, user, client):
    _, note = imported
    again = import_bytes(user, "vault.zip", vault()).as_dict()
    assert again["created"]["files"] == 0 and again["updated"]["files"] == 0
    redrawn = image_bytes("PNG", "green")
    changed = import_bytes(user, "vault.zip", vault(**{"Vault/images/attention map.png": redrawn})).as_dict()
    assert changed["updated"]["files"] == 1 and Attachment.objects.filter(note=note).count() == 3
    client.force_login(user)
    assert client.get(file_urls(note)["images/attention map.png"]).content == redrawn


def test_the_markdown_export_carries_the_files_and_comes_back_identical(imported, user, other_user, client):
    _, note = imported
    exported = export_markdown_zip(user)
    names = zipfile.ZipFile(io.BytesIO(exported)).namelist()
    assert {"notes/images/attention map.png", "notes/Pasted image 20240304.png", "notes/files/talk.pdf"} <= set(names)
    report = import_bytes(other_user, "export.zip", exported).as_dict()
    assert report["created"]["files"] == 3
    copy = Note.objects.get(user=other_user)
    assert {a.name: bytes(a.data) for a in copy.attachments.all()} == {
        a.name: bytes(a.data) for a in note.attachments.all()}
    again = zipfile.ZipFile(io.BytesIO(export_markdown_zip(other_user)))
    first = zipfile.ZipFile(io.BytesIO(exported))
    assert {n: again.read(n) for n in again.namelist()} == {n: first.read(n) for n in first.namelist()}
    client.force_login(other_user)
    assert client.get(file_urls(copy)["images/attention map.png"]).content == MAP


def test_the_json_export_carries_the_files_and_creates_nothing_in_the_account_it_came_from(imported, user, other_user):
    _, note = imported
    exported = export_json(user)
    into_other = import_bytes(other_user, "lablog.json", exported).as_dict()
    assert into_other["created"]["files"] == 3
    copy = Note.objects.get(user=other_user)
    assert sorted((a.name, bytes(a.data)) for a in copy.attachments.all()) == sorted(
        (a.name, bytes(a.data)) for a in note.attachments.all())
    back = import_bytes(user, "lablog.json", exported).as_dict()
    assert back["created"]["files"] == back["updated"]["files"] == 0 and Attachment.objects.count() == 6


def test_a_damaged_file_in_a_json_export_fails_its_note_with_a_reason(imported, user, other_user):
    exported = export_json(user).replace(b'"sha256": "', b'"sha256": "0', 1)
    report = import_bytes(other_user, "lablog.json", exported).as_dict()
    assert any("is damaged (its SHA-256 does not match)" in f["reason"] for f in report["failed"])


def test_a_file_over_the_limit_is_left_out_and_the_report_says_so(user, settings):
    settings.NOTE_ATTACHMENT_MAX_BYTES = 50
    report = import_bytes(user, "vault.zip", vault()).as_dict()
    assert report["created"]["files"] == 1  # the PDF, 31 bytes
    assert any("over the limit of 50 for a note's file" in n["message"] for n in report["notices"])


def test_deleting_a_note_deletes_its_files(imported):
    _, note = imported
    note.delete()
    assert not Attachment.objects.exists()


def attach(client, note, name: str, data: bytes):
    upload = SimpleUploadedFile(name, data)
    return client.post(f"/notes/{note.pk}/files/", {"file": upload}, HTTP_HX_REQUEST="true")


def test_a_file_attached_on_the_note_page_is_listed_and_can_be_shown_and_deleted(user, client):
    note = Note.objects.create_note(user, title="Sweep", body="The grid: ![[grid.png]]")
    client.force_login(user)
    response = attach(client, note, "grid.png", MAP)
    assert response.status_code == 200 and response["X-Attached-Name"] == "grid.png"
    section = response.content.decode()
    assert 'id="files"' in section and "grid.png" in section and "![[grid.png]]" in section
    page = client.get(note.get_absolute_url()).content.decode()
    assert f'<img src="/notes/{note.pk}/files/grid.png" alt="grid.png">' in page
    # The same name again replaces the file; the text needs no change.
    attach(client, note, "grid.png", image_bytes("PNG", "green"))
    assert note.attachments.count() == 1 and bytes(note.attachments.get().data) != MAP
    deleted = client.post(f"/notes/{note.pk}/files/grid.png/delete/", HTTP_HX_REQUEST="true")
    assert deleted.status_code == 200 and not note.attachments.exists()
    assert 'class="embedded-file"' in client.get(note.get_absolute_url()).content.decode()


@pytest.mark.parametrize("name,data,message", [
    ("setup.exe", b"MZ", "“setup.exe” cannot be attached: a note keeps images (PNG, JPEG, GIF, WebP, SVG, BMP) and PDFs."),
    ("big.png", b"\x89PNG" + b"0" * 60, "big.png is 64 bytes, over the limit of 50 for a note's file."),
])
def test_a_file_that_cannot_be_attached_is_refused_with_the_reason(user, client, settings, name, data, message):
    settings.NOTE_ATTACHMENT_MAX_BYTES = 50
    note = Note.objects.create_note(user, title="Sweep", body="")
    client.force_login(user)
    response = attach(client, note, name, data)
    assert response.status_code == 422 and message in unescape(response.content.decode())
    assert not note.attachments.exists()


def test_another_account_cannot_attach_to_or_delete_from_a_note(imported, client, other_user):
    _, note = imported
    client.force_login(other_user)
    assert attach(client, note, "x.png", MAP).status_code == 404
    assert client.post(f"/notes/{note.pk}/files/files/talk.pdf/delete/").status_code == 404
    assert note.attachments.count() == 3


def test_the_editor_preview_shows_the_notes_files(imported, client, user, other_user):
    _, note = imported
    client.force_login(user)
    body = "![[Pasted image 20240304.png]]"
    preview = client.post("/notes/preview/", {"body": body, "note": note.pk}).content.decode()
    assert f'src="/notes/{note.pk}/files/Pasted%20image%2020240304.png"' in preview
    client.force_login(other_user)  # someone else's note id changes nothing
    assert "/files/" not in client.post("/notes/preview/", {"body": body, "note": note.pk}).content.decode()


def test_a_vaults_files_no_note_refers_to_are_never_read_so_a_large_vault_still_comes_in(user, settings):
    settings.EXCHANGE_ZIP_MAX_UNCOMPRESSED_BYTES = 2_000  # the notes' text fits; the vault's images do not
    unused = {f"Vault/attachments/old {n}.png": image_bytes("PNG", "white") + bytes(2_000) for n in range(5)}
    report = import_bytes(user, "vault.zip", vault(**unused)).as_dict()
    assert report["failed"] == [] and report["created"]["notes"] == 1 and report["created"]["files"] == 3


def test_a_folder_imported_from_disk_brings_its_notes_files(user, tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "attention map.png").write_bytes(MAP)
    (tmp_path / "Attention.md").write_text("![diagram](images/attention%20map.png)")
    report = import_path(user, tmp_path).as_dict()
    assert report["created"]["files"] == 1
    assert bytes(Note.objects.get(user=user).attachments.get(name="images/attention map.png").data) == MAP
