"""Every way a note or snippet goes away or moves reaches the search index: snippet
reorder, queryset (bulk) deletes, the admin's bulk action, and deleting a user."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from notes import signals
from notes.models import Note, Paper, Snippet


@pytest.fixture
def sent():
    """The notes signals sent (after commit), as (signal name, note or paper id)."""
    calls = []
    receivers = {
        "note_deleted": lambda sender, note_id, **kw: calls.append(("note_deleted", note_id)),
        "paper_deleted": lambda sender, paper_id, **kw: calls.append(("paper_deleted", paper_id)),
        "snippet_changed": lambda sender, note_id, **kw: calls.append(("snippet_changed", note_id)),
        "snippet_deleted": lambda sender, note_id, **kw: calls.append(("snippet_deleted", note_id)),
    }
    for name, receiver in receivers.items():
        getattr(signals, name).connect(receiver, weak=False, dispatch_uid=f"test-{name}")
    yield calls
    for name in receivers:
        getattr(signals, name).disconnect(dispatch_uid=f"test-{name}")


@pytest.fixture
def note(user):
    note = Note.objects.create_note(user, title="Reading", body="x")
    for text in ("one", "two", "three"):
        Snippet.objects.create(note=note, text=text)
    return note


def test_reordering_snippets_reindexes_the_note_once(note, sent, django_capture_on_commit_callbacks):
    ids = list(note.snippets.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        Snippet.reorder(note, ids[::-1])
    assert sent == [("snippet_changed", note.pk)]
    assert list(note.snippets.values_list("text", flat=True)) == ["three", "two", "one"]


def test_a_bulk_snippet_delete_reaches_the_index(note, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        Snippet.objects.filter(note=note, text__in=["one", "two"]).delete()
    assert sent == [("snippet_deleted", note.pk)] * 2


def test_bulk_note_and_paper_deletes_reach_the_index(user, note, sent, django_capture_on_commit_callbacks):
    other = Note.objects.create_note(user, title="Other", body="y")
    paper = Paper.objects.create(user=user, title="P")
    with django_capture_on_commit_callbacks(execute=True):
        Note.objects.for_user(user).delete()
        Paper.objects.for_user(user).delete()
    # The snippets went with their note: only the notes themselves are announced.
    assert sorted(sent) == sorted([("note_deleted", note.pk), ("note_deleted", other.pk), ("paper_deleted", paper.pk)])


def test_the_admins_bulk_delete_reaches_the_index(client, user, note, sent, django_capture_on_commit_callbacks):
    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:notes_note_changelist"), {
            "action": "delete_selected", "_selected_action": [note.pk], "post": "yes",
        })
    assert response.status_code == 302
    assert sent == [("note_deleted", note.pk)]


def test_deleting_a_user_reaches_the_index_for_each_of_their_notes(note, sent, django_capture_on_commit_callbacks):
    other = get_user_model().objects.create_user("leaving")
    theirs = Note.objects.create_note(other, title="Theirs", body="z")
    with django_capture_on_commit_callbacks(execute=True):
        other.delete()
    assert sent == [("note_deleted", theirs.pk)]
    assert Note.objects.filter(pk=note.pk).exists()


@pytest.mark.worker
def test_a_deleted_users_index_files_are_removed_by_the_index_worker(user, settings, celery_worker):
    from search import hnsw, indexing
    from tests.waiting import wait_until

    leaving = get_user_model().objects.create_user("leaving")
    for who in (user, leaving):
        indexing.index_note(Note.objects.create_note(who, title="Guidance", body="Classifier-free guidance trades diversity.").pk)
        hnsw.write_snapshot(who.pk)
    index_dir = hnsw.index_dir()
    mine = sorted(p.name for p in index_dir.glob(f"user-{user.pk}-*"))
    assert mine and list(index_dir.glob(f"user-{leaving.pk}-*"))
    celery_worker(queues=["index"], extra_env={"SEARCH_INDEX_DIR": settings.SEARCH_INDEX_DIR})

    leaving.delete()
    wait_until(lambda: not list(index_dir.glob(f"user-{leaving.pk}*")), 60, "the deleted user's index files are still there")
    assert sorted(p.name for p in index_dir.glob(f"user-{user.pk}-*")) == mine  # nobody else's
