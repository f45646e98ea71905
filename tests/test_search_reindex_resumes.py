"""A requested re-index always ends: a step lost with Redis's queue, or a worker killed
mid-batch, is resumed from where the re-index got to; a second copy of a step does nothing;
a note that cannot be embedded is reported without stopping the rest."""

import pytest
from django.utils import timezone

from lablog.redis_clients import redis_client
from notes.models import Note
from search import indexing, reindex, services
from search.models import IndexedSource, Passage, UserIndexState
from tests.search_fixtures import corpus_entries
from tests.waiting import wait_until


def embedded_at(user) -> dict[int, object]:
    return dict(IndexedSource.objects.filter(user=user, kind=Passage.NOTE).values_list("object_id", "embedded_at"))


def passage_ids(user) -> set[int]:
    return set(Passage.objects.filter(user=user).values_list("pk", flat=True))


@pytest.mark.worker
def test_a_re_index_whose_queued_step_was_lost_resumes_where_it_stopped(celery_worker, user, settings):
    notes = [Note.objects.create_note(user, title=e["title"], body=e["body"]).pk for e in corpus_entries()[:120]]
    redis_client().delete("embed")  # the notes are embedded by the re-index alone
    requested = timezone.now()
    services.request_reindex(user)
    env = {"SEARCH_INDEX_DIR": settings.SEARCH_INDEX_DIR}
    worker = celery_worker(queues=["embed", "index"], extra_env=env)
    wait_until(lambda: UserIndexState.objects.get(user=user).reindex_after, 120, "the re-index did not get past a batch")

    # A crash of the worker and a Redis restart that lost every queued and unacked message.
    worker.kill()
    redis_client().delete("embed", "index", "unacked", "unacked_index")
    state = UserIndexState.objects.get(user=user)
    assert state.reindex_state == "running" and state.reindex_step == Passage.NOTE
    recorded = state.reindex_after
    done_before = {pk: at for pk, at in embedded_at(user).items() if pk <= recorded}
    assert done_before and all(at > requested for at in done_before.values())

    celery_worker(queues=["embed", "index"], extra_env=env)
    assert reindex.stalled_reindexes() == []  # it moved within SEARCH_REINDEX_STALL_SECONDS
    settings.SEARCH_REINDEX_STALL_SECONDS = 0
    reindex.reconcile()  # what the beat runs every minute: it queues the recorded step again
    wait_until(lambda: services.reindex_progress(user)["state"] == "done", 300, "the resumed re-index did not finish")

    assert services.reindex_progress(user) == {"state": "done", "done": len(notes), "total": len(notes), "waiting_since": None}
    after = embedded_at(user)
    assert all(after[pk] > requested for pk in notes)  # every note re-embedded
    assert {pk: after[pk] for pk in done_before} == done_before  # and the finished part not again
    assert services.search(user, corpus_entries()[5]["title"], mode="semantic").hits


def test_a_second_copy_of_a_re_index_step_does_nothing(user):
    for e in corpus_entries()[:3]:
        Note.objects.create_note(user, title=e["title"], body=e["body"])
    reindex.mark_requested(user.pk)
    assert reindex.start_reindex(user.pk) == 3
    assert reindex.start_reindex(user.pk) is None
    assert reindex.reindex_batch(user.pk, Passage.NOTE, 0, seconds=60) == (Passage.PAPER, 0)
    embedded = passage_ids(user)

    assert reindex.reindex_batch(user.pk, Passage.NOTE, 0, seconds=60) is None
    assert passage_ids(user) == embedded  # nothing embedded twice
    assert reindex.finish_reindex(user.pk) is False  # not there yet
    assert reindex.reindex_batch(user.pk, Passage.PAPER, 0) == (reindex.FINISH, 0)
    assert reindex.finish_reindex(user.pk) is True
    assert services.reindex_progress(user) == {"state": "done", "done": 3, "total": 3, "waiting_since": None}
    assert reindex.finish_reindex(user.pk) is False


def test_a_re_index_requested_again_replaces_the_one_running(user):
    Note.objects.create_note(user, title="Guidance", body="Classifier-free guidance trades diversity for fidelity.")
    reindex.mark_requested(user.pk)
    reindex.start_reindex(user.pk)
    reindex.mark_requested(user.pk)  # what a second click on Re-index does before queuing its start
    # The old chain's next step finds the re-index back at its start and stops.
    assert reindex.reindex_batch(user.pk, Passage.NOTE, 0) is None
    assert UserIndexState.objects.get(user=user).reindex_step == reindex.START


def test_a_note_that_cannot_be_embedded_is_reported_and_the_re_index_goes_on(user, monkeypatch):
    good = Note.objects.create_note(user, title="Guidance", body="Classifier-free guidance trades diversity for fidelity.")
    bad = Note.objects.create_note(user, title="Broken", body="A note the embedder chokes on.")
    index_note = indexing.index_note

    def choke_on_bad(note_id, **kwargs):
        if note_id == bad.pk:
            raise RuntimeError("embedder out of memory")
        return index_note(note_id, **kwargs)

    monkeypatch.setattr(indexing, "index_note", choke_on_bad)
    reindex.reindex_user(user.pk)

    assert services.reindex_progress(user) == {"state": "done", "done": 2, "total": 2, "waiting_since": None}
    rows = {row["note_id"]: row for row in services.index_status(user)["notes"]}
    assert rows[bad.pk]["state"] == "failed" and "embedder out of memory" in rows[bad.pk]["error"]
    assert rows[good.pk]["state"] == "indexed"
    assert services.search(user, "diversity versus fidelity", mode="semantic").hits[0].note_id == good.pk


def test_a_re_index_running_when_lablog_was_upgraded_is_restarted_by_reconcile(user, settings, monkeypatch):
    from search.tasks import reindex_user

    UserIndexState.objects.create(user=user, reindex_state="running", reindex_step=reindex.START)  # as the migration leaves it
    queued = []
    monkeypatch.setattr(reindex_user, "apply_async", lambda args, priority: queued.append(args))
    settings.SEARCH_REINDEX_STALL_SECONDS = 300
    reindex.reconcile()
    reindex.reconcile()
    assert queued == [(user.pk,)]  # once, not on every pass
