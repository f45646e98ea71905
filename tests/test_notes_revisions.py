"""Revisions through the views: list, diff against the current text, restore."""

import pytest
from django.urls import reverse

from notes.models import Note


@pytest.fixture
def note(user):
    note = Note.objects.create_note(user, title="Plan", body="keep this line\nold idea\n")
    return note.apply_edit(base_version=1, title="Plan", body="keep this line\nnew idea\n")


def test_revision_list_shows_every_earlier_version(auth_client, note):
    html = auth_client.get(reverse("notes:revisions", args=[note.pk])).content.decode()
    assert "Version 2" in html and reverse("notes:revision", args=[note.pk, 1]) in html


def test_revision_is_shown_as_a_diff_against_the_current_text(auth_client, note):
    response = auth_client.get(reverse("notes:revision", args=[note.pk, 1]))
    assert ("del", "old idea") in response.context["diff"]
    assert ("add", "new idea") in response.context["diff"]
    html = response.content.decode()
    assert '<span class="del">- old idea</span>' in html and '<span class="add">+ new idea</span>' in html


def test_restoring_a_revision_makes_it_current_and_keeps_the_replaced_text(auth_client, note):
    response = auth_client.post(reverse("notes:revision_restore", args=[note.pk, 1]), {"base_version": 2})
    assert response["Location"] == note.get_absolute_url()
    note.refresh_from_db()
    assert (note.body, note.version) == ("keep this line\nold idea\n", 3)
    assert note.revisions.get(version=2).body == "keep this line\nnew idea\n"


def test_restore_from_a_stale_page_is_refused_and_changes_nothing(auth_client, note):
    note.apply_edit(base_version=2, title="Plan", body="written in another tab")
    response = auth_client.post(reverse("notes:revision_restore", args=[note.pk, 1]), {"base_version": 2}, follow=True)
    assert "The note changed since you opened this page" in response.content.decode()
    note.refresh_from_db()
    assert (note.body, note.version) == ("written in another tab", 3)
