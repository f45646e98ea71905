"""A save is made findable before bulk work queued ahead of it: reconcile's stale notes,
another user's import, a requested re-index (a real worker and broker)."""

import re
from pathlib import Path

import pytest

from exchange.importers import import_bytes
from lablog.redis_clients import redis_client
from notes.models import Note
from search import reindex, services
from search.models import IndexedSource, Passage, UserIndexState
from tests.search_fixtures import SHARED, corpus_entries
from tests.waiting import wait_until

pytestmark = [pytest.mark.worker]


def embedded_at(note_ids) -> dict[int, object]:
    """When each of these notes got its vectors, for those that have them."""
    return dict(IndexedSource.objects.filter(kind=Passage.NOTE, state=IndexedSource.INDEXED, object_id__in=list(note_ids))
                .values_list("object_id", "embedded_at"))


def save_a_note(user) -> Note:
    return Note.objects.create_note(user, title="Just saved", body="Classifier-free guidance scale sweep.")


def test_a_save_is_indexed_before_the_stale_notes_reconcile_found(celery_worker, user, tmp_path):
    backlog = [Note.objects.create_note(user, title=f"Backlog {i}", body=f"Old note {i} about optimisers.") for i in range(12)]
    redis_client().delete("embed")  # their tasks lost, as in an outage: now they are stale
    assert reindex.reconcile(grace_seconds=0) == len(backlog)
    saved = save_a_note(user)
    celery_worker(queues=["embed"], extra_env={"SEARCH_INDEX_DIR": str(tmp_path / "index")})

    wait_until(lambda: len(embedded_at(n.pk for n in [*backlog, saved])) == len(backlog) + 1, 120, "the notes were not all indexed")
    when = embedded_at(n.pk for n in [*backlog, saved])
    assert when[saved.pk] < min(when[n.pk] for n in backlog)


def test_a_save_is_indexed_before_another_users_import(celery_worker, user, other_user, tmp_path):
    log = SHARED / "data" / "research-log.txt"
    if not log.exists():
        pytest.skip(f"the research log is not at {log}")
    report = import_bytes(other_user, log.name, log.read_bytes())
    imported = list(Note.objects.for_user(other_user).values_list("pk", flat=True))
    assert report.as_dict()["created"]["notes"] == len(imported) > 100
    saved = save_a_note(user)
    celery_worker(queues=["embed"], extra_env={"SEARCH_INDEX_DIR": str(tmp_path / "index")})

    # The worker found the import's 143 notes (and their papers) queued before the save.
    wait_until(lambda: saved.pk in embedded_at([saved.pk]) and embedded_at(imported), 120, "nothing was indexed")
    assert embedded_at([saved.pk])[saved.pk] < min(embedded_at(imported).values())
    wait_until(lambda: len(embedded_at(imported)) == len(imported), 300, "the import was not all indexed")


def test_a_save_waits_for_one_batch_of_a_re_index_not_the_whole(celery_worker, user, other_user, settings):
    collection = [Note.objects.create_note(other_user, title=e["title"], body=e["body"]).pk for e in corpus_entries()]
    redis_client().delete("embed")  # the collection is re-embedded by the re-index alone
    services.request_reindex(other_user)
    celery_worker(queues=["embed", "index"], extra_env={"SEARCH_INDEX_DIR": settings.SEARCH_INDEX_DIR})
    wait_until(lambda: services.reindex_progress(other_user)["done"], 120, "the re-index did not start")

    saved = save_a_note(user)
    wait_until(lambda: embedded_at([saved.pk]), 60, "the save was not indexed")
    assert services.reindex_progress(other_user)["done"] < len(collection)  # it did not wait for the re-index's end
    wait_until(lambda: services.reindex_progress(other_user)["state"] == "done", 300, "the re-index did not finish")
    assert services.reindex_progress(other_user) == {"state": "done", "done": len(collection), "total": len(collection), "waiting_since": None}
    assert len(embedded_at(collection)) == len(collection)
    assert embedded_at([saved.pk])[saved.pk] < max(embedded_at(collection).values())
    assert UserIndexState.objects.get(user=other_user).reindex_state == "done"


def test_make_run_keeps_imports_off_the_worker_that_embeds_saves():
    """An import is one long task: on the embed worker every save would wait for its end."""
    procfile = (Path(__file__).resolve().parents[1] / "Procfile").read_text()
    queues = [set(re.search(r"--queues (\S+)", line).group(1).split(",")) for line in procfile.splitlines() if "--queues" in line]
    assert {"embed"} in queues
    assert any("default" in q for q in queues)
