"""The index status page: totals and per-note state, "don't index", and re-indexing with a progress bar."""

import re

import pytest
from django.urls import reverse

from notes.models import Note
from search.indexing import index_note
from tests.waiting import wait_for_htmx_stop

STATUS = reverse("search:status")


def test_status_shows_each_own_note_and_totals_of_own_notes_only(auth_client, user, other_user, write_note):
    long_body = "\n\n".join(f"Paragraph {n} about optical tweezers and trapped beads. " * 12 for n in range(6))
    long = write_note(user, "Optical tweezers", long_body)
    write_note(user, "Pending note", "Saved, not embedded yet.", indexed=False)
    for n in range(3):
        write_note(other_user, f"Mallory secret {n}", "Another user's words.")

    html = auth_client.get(STATUS).content.decode()
    assert "Mallory" not in html
    rows = dict(re.findall(r'<tr id="note-(\d+)">(.*?)</tr>', html, re.S))
    assert len(rows) == 2
    row = rows[str(long.pk)]
    passages = int(re.search(r"</a></td>\s*<td>(\d+)</td>", row).group(1))
    assert passages > 1  # a long note is split into passages
    assert "all-MiniLM-L6-v2" in row and "<time" in row and "indexed" in row
    assert re.search(r"<dt>Notes</dt><dd>2</dd>", html)
    assert re.search(r"<dt>Pending</dt><dd>1</dd>", html)
    assert re.search(rf"<dt>Passages</dt><dd>{passages}</dd>", html)  # the pending note has no passage yet
    assert "Re-index" in html


def test_deleted_not_yet_erased_counts_only_vectors_a_search_index_still_holds(
    auth_client, user, django_capture_on_commit_callbacks
):
    def deleted_not_erased():
        html = auth_client.get(STATUS).content.decode()
        return int(re.search(r"<dt>Deleted, not yet erased</dt><dd>(\d+)</dd>", html).group(1))

    body = "\n\n".join(f"Paragraph {n} on diffusion samplers and guidance scales." for n in range(4))
    with django_capture_on_commit_callbacks(execute=True):  # the save's words-only passages
        note = Note.objects.create_note(user, title="Samplers", body=body)
    assert index_note(note.pk) == "indexed"  # the worker replaces them with embedded ones
    assert deleted_not_erased() == 0

    with django_capture_on_commit_callbacks(execute=True):
        note = note.apply_edit(base_version=note.version, title="Samplers", body=body.replace("Paragraph 3", "Section 3"))
    assert index_note(note.pk) == "indexed"
    assert deleted_not_erased() == 1  # the edited paragraph's old vector


def test_dont_index_takes_a_note_out_of_search_by_meaning(auth_client, user, write_note):
    note = write_note(user, "Afternoon at home", "My cat sleeps on the rug by the window all afternoon.")
    response = auth_client.post(reverse("search:note_searchable", args=[note.pk]), {"searchable": "0"})
    assert response.status_code == 302 and response["Location"] == STATUS
    note.refresh_from_db()
    assert note.searchable is False and note.version == 2 and "cat sleeps" in note.body
    index_note(note.pk)  # what the worker does after the save
    html = auth_client.get(STATUS).content.decode()
    row = re.search(rf'<tr id="note-{note.pk}">(.*?)</tr>', html, re.S).group(1)
    assert "not indexed" in row and "Index again" in row
    semantic = auth_client.get(reverse("search:results"), {"q": "feline napping on a carpet", "mode": "semantic"})
    assert "Afternoon at home" not in semantic.content.decode()

    auth_client.post(reverse("search:note_searchable", args=[note.pk]), {"searchable": "1"})
    note.refresh_from_db()
    assert note.searchable is True
    index_note(note.pk)
    semantic = auth_client.get(reverse("search:results"), {"q": "feline napping on a carpet", "mode": "semantic"})
    assert "Afternoon at home" in semantic.content.decode()


def test_status_needs_a_login_and_reindex_needs_a_post(client, user):
    assert client.get(STATUS).status_code == 302
    client.force_login(user)
    assert client.get(reverse("search:reindex")).status_code == 405


@pytest.mark.worker
def test_reindex_shows_progress_until_done(client, user, celery_worker, settings):
    client.force_login(user)
    for n in range(4):
        Note.objects.create_note(user, title=f"Note {n}", body=f"Body {n} about spectroscopy of cold atoms.")
    celery_worker(queues=["embed", "index"], extra_env={"SEARCH_INDEX_DIR": settings.SEARCH_INDEX_DIR})

    started = client.post(reverse("search:reindex"), HTTP_HX_REQUEST="true")
    html = started.content.decode()
    assert started.status_code == 200 and 'id="reindex-progress"' in html
    assert 'hx-trigger="every 1s"' in html and "<progress" in html

    poll = wait_for_htmx_stop(client, reverse("search:reindex_progress"), 120, "re-index did not finish",
                              while_polling_says="Re-indexing")
    assert "Re-index done: 4 of 4" in poll.content.decode() and "every 1s" not in poll.content.decode()
    assert "Re-index done: 4 of 4" in client.get(STATUS).content.decode()


def test_a_re_index_that_has_not_moved_for_a_while_says_it_is_waiting(auth_client, user):
    from datetime import timedelta

    from django.utils import timezone

    from search.models import UserIndexState

    state = UserIndexState.objects.create(user=user, reindex_state="running", reindex_step="note", reindex_after=7,
                                          reindex_total=40, reindex_done=12, reindex_moved=timezone.now())
    progress = auth_client.get(reverse("search:reindex_progress"), HTTP_HX_REQUEST="true").content.decode()
    assert "Re-indexing: 12 of 40" in progress and "Waiting" not in progress  # it just moved

    state.reindex_moved = timezone.now() - timedelta(minutes=4)
    state.save(update_fields=["reindex_moved"])
    progress = auth_client.get(reverse("search:reindex_progress"), HTTP_HX_REQUEST="true").content.decode()
    assert "Re-indexing: 12 of 40" in progress
    assert f"Waiting since {timezone.localtime(state.reindex_moved):%H:%M}" in progress and "it goes on by itself" in progress
