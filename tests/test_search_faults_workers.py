"""Faults with real Celery workers and a real broker: killed workers, a broker that is
down while a user saves, two processes saving at once."""

import os
import subprocess
import sys
import time

import pytest

from lablog.redis_clients import redis_client
from notes.models import Note
from search import services, staleness
from search.check import check_user
from search.models import Passage
from tests import celery_worker as worker_process
from tests.waiting import wait_until

pytestmark = [pytest.mark.worker]

# Long enough (~100 passages) that embedding it takes seconds, so the kill lands mid-way.
LONG_BODY = "\n\n".join(
    f"Paragraph {i}: the learning rate warm-up schedule interacts with gradient clipping and batch size {i}." * 3
    for i in range(400)
)


def state(note_id: int) -> str:
    return services.note_index_state(Note.objects.get(pk=note_id))


def test_note_is_indexed_after_its_worker_is_killed_mid_embedding(celery_worker, user, tmp_path):
    env = {"CELERY_VISIBILITY_TIMEOUT": "2", "SEARCH_INDEX_DIR": str(tmp_path / "index")}
    worker = celery_worker(queues=["embed"], extra_env=env)
    note = Note.objects.create_note(user, title="Warm-up", body=LONG_BODY)
    # The worker has taken the task (acks late: it sits in Redis's unacked set while it runs).
    wait_until(lambda: redis_client().hlen("unacked") > 0, 60, "timed out waiting for the worker to take the task")
    time.sleep(0.5)
    worker.kill()
    assert state(note.pk) == "pending"
    celery_worker(queues=["embed"], extra_env=env)
    wait_until(lambda: state(note.pk) == "indexed", 240, "timed out waiting for the re-delivered task")
    assert services.search(user, "warm-up schedule and gradient clipping", mode="semantic").hits[0].note_id == note.pk
    assert check_user(user.pk)["problems"] == []


def test_reindex_requested_while_redis_is_down_does_not_claim_to_run(user, private_redis):
    from search.models import UserIndexState

    private_redis.stop()
    services.request_reindex(user)
    assert UserIndexState.objects.get(user=user).reindex_state == "idle"
    assert services.reindex_progress(user)["state"] == "idle"


def test_note_saved_while_redis_is_down_is_indexed_when_it_returns(celery_worker, user, private_redis, tmp_path):
    private_redis.stop()
    note = Note.objects.create_note(user, title="Glaciers", body="Ice sheets retreat as the climate warms.")
    # The save succeeded; the note waits, and is found by words already.
    assert Note.objects.filter(pk=note.pk).exists()
    assert state(note.pk) == "pending"
    assert [h.note_id for h in services.search(user, "glaciers", mode="keyword").hits] == [note.pk]

    private_redis.start()
    env = {
        "REDIS_URL": private_redis.url, "SEARCH_INDEX_DIR": str(tmp_path / "index"),
        "SEARCH_RECONCILE_SECONDS": "1", "SEARCH_RECONCILE_GRACE_SECONDS": "0",
    }
    celery_worker(queues=["embed", "index"], extra_env=env)  # reconcile runs on `index`
    beat_log = open(tmp_path / "beat.log", "wb")
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "lablog", "beat", "--schedule", str(tmp_path / "beat-schedule"),
         "--loglevel", "INFO"],
        cwd=worker_process.ROOT, env=dict(os.environ, DATABASE_URL=worker_process.test_database_url(), **env), stdout=beat_log, stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: state(note.pk) == "indexed", 240, "timed out waiting for reconcile to index the note")
    finally:
        beat.terminate()
        beat.wait(20)
        beat_log.close()
    assert services.search(user, "melting polar ice", mode="semantic").hits[0].note_id == note.pk


SAVER = """
import sys
from django.contrib.auth import get_user_model
from notes.models import Note
user = get_user_model().objects.get(pk={user_id})
topics = {topics!r}
for i in range({count}):
    note = Note.objects.create_note(user, title="", body=topics[(i * 7 + {offset}) % len(topics)] + " ({offset}-" + str(i % 5) + ")")
    if i % 10 == 0:
        note.apply_edit(base_version=note.version, title=note.title, body=note.body + " Edited once.")
    if i % 25 == 0:
        print("deleted", note.pk)
        note.delete()
"""

TOPICS = [
    "Contrastive learning of visual representations.", "Protein structure prediction with attention.",
    "Graph neural networks for molecules.", "Sparse mixture of experts routing.", "Diffusion models for audio.",
    "Retrieval augmented generation.", "Speculative decoding speeds up inference.", "Quantisation to four bits.",
    "Curriculum learning for reinforcement agents.", "Neural radiance fields for scenes.",
]


def test_two_processes_saving_500_notes_leave_one_live_vector_per_passage(celery_worker, user, tmp_path):
    celery_worker(queues=["embed"], concurrency=2, extra_env={"SEARCH_INDEX_DIR": str(tmp_path / "index")})
    env = dict(os.environ, DATABASE_URL=worker_process.test_database_url())
    savers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c",
             SAVER.format(user_id=user.pk, topics=TOPICS, count=250, offset=offset)],
            cwd=worker_process.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for offset in (0, 3)
    ]
    deleted = []
    for saver in savers:
        out, err = saver.communicate(timeout=400)
        assert saver.returncode == 0, err[-3000:]
        deleted += [int(line.split()[1]) for line in out.splitlines() if line.startswith("deleted")]
    assert Note.objects.filter(user=user).count() == 500 - len(deleted)

    def settled():
        return not staleness.stale_sources(grace_seconds=0) and not Passage.objects.filter(note_id__in=deleted).exists()

    wait_until(settled, 400, "timed out waiting for the worker to index every note")
    report = check_user(user.pk)
    assert report["problems"] == []
    assert report["vectors"] == report["index_live"] == Passage.objects.filter(user=user).count()
    for query in TOPICS[:3]:
        hits = services.search(user, query, limit=50).hits
        assert hits and not {h.note_id for h in hits} & set(deleted)
