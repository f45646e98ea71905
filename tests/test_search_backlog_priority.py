"""A save is made findable before the backlog a sweep found: reconcile's re-enqueued stale
notes wait behind users' saves on the embed queue (a real worker and broker)."""

import pytest

from notes.models import Note
from search import reindex
from search.models import IndexedSource, Passage
from tests.waiting import wait_until
from workers.liveness import redis_client

pytestmark = [pytest.mark.worker]


def test_a_save_is_indexed_before_the_stale_notes_reconcile_found(celery_worker, user, tmp_path):
    backlog = [Note.objects.create_note(user, title=f"Backlog {i}", body=f"Old note {i} about optimisers.") for i in range(12)]
    redis_client().delete("embed")  # their tasks lost, as in an outage: now they are stale
    assert reindex.reconcile(grace_seconds=0) == len(backlog)
    saved = Note.objects.create_note(user, title="Just saved", body="Classifier-free guidance scale sweep.")
    celery_worker(queues=["embed"], extra_env={"SEARCH_INDEX_DIR": str(tmp_path / "index")})

    def indexed():
        return IndexedSource.objects.filter(kind=Passage.NOTE, state=IndexedSource.INDEXED, object_id__in=[n.pk for n in [*backlog, saved]])

    wait_until(lambda: indexed().count() == len(backlog) + 1, 120, "the notes were not all indexed")
    when = dict(indexed().values_list("object_id", "embedded_at"))
    assert when[saved.pk] < min(when[n.pk] for n in backlog)
