"""Staff edit notes in the Django admin through the same model methods as the editor."""

import pytest
from django.urls import reverse

from notes.models import Note, Revision


@pytest.fixture
def staff_client(client, user):
    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    return client


def admin_form(note, **fields):
    return {"user": note.user_id, "title": note.title, "body": note.body, "tags": [t.pk for t in note.tags.all()],
            "paper": "", "searchable": "on",
            "snippets-TOTAL_FORMS": 0, "snippets-INITIAL_FORMS": 0, "attachments-TOTAL_FORMS": 0, "attachments-INITIAL_FORMS": 0,
            "revisions-TOTAL_FORMS": note.revisions.count(), "revisions-INITIAL_FORMS": note.revisions.count(),
            **fields}


def test_saving_a_note_in_the_admin_keeps_a_revision_and_bumps_the_version(staff_client, user):
    note = Note.objects.create_note(user, title="Admin", body="before", tags=["t"])
    response = staff_client.post(reverse("admin:notes_note_change", args=[note.pk]), admin_form(note, body="after"))
    assert response.status_code == 302, response.content.decode()[:2000]
    note.refresh_from_db()
    assert (note.body, note.version, note.tag_names()) == ("after", 2, ["t"])
    assert Revision.objects.get(note=note).body == "before"


def test_adding_a_note_in_the_admin_derives_its_title_and_links(staff_client, user):
    target = Note.objects.create_note(user, title="Target", body="")
    data = {"user": user.pk, "title": "", "body": "# From admin\nsee [[Target]]", "paper": "", "searchable": "on",
            "snippets-TOTAL_FORMS": 0, "snippets-INITIAL_FORMS": 0, "attachments-TOTAL_FORMS": 0, "attachments-INITIAL_FORMS": 0, "revisions-TOTAL_FORMS": 0, "revisions-INITIAL_FORMS": 0}
    response = staff_client.post(reverse("admin:notes_note_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    created = Note.objects.get(title="From admin")
    assert list(target.backlinks()) == [created]


def test_admin_lists_open_for_staff(staff_client):
    for name in ("note", "paper", "snippet", "tag", "revision"):
        assert staff_client.get(reverse(f"admin:notes_{name}_changelist")).status_code == 200


def test_a_notes_files_are_listed_on_its_admin_page_without_their_bytes(staff_client, user):
    from notes.attachments import store

    note = Note.objects.create_note(user, title="With a file", body="![[grid.png]]")
    store(note, "grid.png", b"\x89PNG\r\n\x1a\n not really")
    page = staff_client.get(reverse("admin:notes_note_change", args=[note.pk])).content.decode()
    assert "grid.png" in page and "image/png" in page and "not really" not in page
