"""Runs survive a broker outage: a run dispatched while Redis is down, or whose message Redis lost,
is sent again by the reaper, and a second copy of a message never runs a job twice."""

import datetime
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from notes.models import Note
from tests.waiting import wait_for_run_end
from workers.models import Run, Runnable
from workers.runner import execute_run
from workers.signals import run_finished
from workers.tasks import reap_lost_runs

TINY = {"diffusion_steps": 10, "training_iterations": 60, "guidance_scales": [0.0, 1.0],
        "samples_per_class": 2, "seed": 0}


def make_runnable(user, params=TINY):
    note = Note.objects.create_note(user, title="Delivery")
    return Runnable.objects.create(note=note, kind="cfg_diffusion", params=params)


def status_of(run):
    run.refresh_from_db()
    return run.status


@pytest.fixture
def finished_events():
    events = []

    def receiver(sender, **kwargs):
        events.append(kwargs)

    run_finished.connect(receiver, weak=False, dispatch_uid="test-delivery")
    yield events
    run_finished.disconnect(dispatch_uid="test-delivery")


@pytest.mark.worker
def test_run_started_while_redis_is_down_is_sent_again_and_succeeds(
    auth_client, user, celery_worker, private_redis, tmp_path
):
    runnable = make_runnable(user)
    private_redis.stop()

    began = time.monotonic()
    response = auth_client.post(reverse("workers:runnable_run", args=[runnable.pk]), HTTP_HX_REQUEST="true")
    took = time.monotonic() - began
    assert response.status_code == 200 and took < 15
    run = runnable.runs.get()
    assert run.status == Run.QUEUED and run.dispatched is None
    card = auth_client.get(reverse("workers:run", args=[run.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "task queue was unreachable" in card and "sent again automatically" in card

    private_redis.start()
    worker = celery_worker(queues=["gpu"], extra_env={"REDIS_URL": private_redis.url, "RUNS_CACHE_DIR": str(tmp_path)})
    time.sleep(3)
    assert status_of(run) == Run.QUEUED  # nothing was ever sent: without the reaper it would wait forever
    assert reap_lost_runs() == {"failed": 0, "redispatched": 1}
    wait_for_run_end(run, worker)
    assert run.status == Run.SUCCEEDED, run.traceback
    assert run.dispatch_error == "" and run.dispatched is not None
    card = auth_client.get(reverse("workers:run", args=[run.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "unreachable" not in card
    assert reap_lost_runs() == {"failed": 0, "redispatched": 0}  # an ended run is never sent again


@pytest.mark.worker
def test_run_whose_message_redis_lost_is_sent_again_to_an_idle_worker(
    user, celery_worker, private_redis, settings, tmp_path
):
    settings.RUNS_REDISPATCH_SECONDS = 2
    run = make_runnable(user).start_run()
    assert status_of(run) == Run.QUEUED and run.dispatched is not None and run.dispatch_error == ""
    private_redis.stop(lose_data=True)  # a restart that lost the queue
    private_redis.start()
    # No worker on the queue: nothing is sent again (the message may still be waiting).
    assert reap_lost_runs() == {"failed": 0, "redispatched": 0}

    worker = celery_worker(queues=["gpu"], extra_env={"REDIS_URL": private_redis.url, "RUNS_CACHE_DIR": str(tmp_path)})
    time.sleep(max(0.0, (run.dispatched + datetime.timedelta(seconds=2) - timezone.now()).total_seconds()) + 0.5)
    assert status_of(run) == Run.QUEUED
    assert reap_lost_runs()["redispatched"] == 1
    wait_for_run_end(run, worker)
    assert run.status == Run.SUCCEEDED, run.traceback


@pytest.mark.django_db
def test_second_copy_of_a_finished_runs_message_is_a_quiet_no_op(user, finished_events):
    run = Run.objects.create(runnable=make_runnable(user, {}), params={})
    assert run.claim("worker-a", "host-a")
    assert run.finish("worker-a", Run.SUCCEEDED, metrics={"loss": 0.5})
    before = Run.objects.get(pk=run.pk)
    assert execute_run(run.pk, "host-b") == Run.SUCCEEDED
    after = Run.objects.get(pk=run.pk)
    assert (after.worker_host, after.started, after.finished, after.metrics) == (
        "host-a", before.started, before.finished, {"loss": 0.5}
    )
    assert finished_events == []


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_queued_run_announces_it_finished(auth_client, user, finished_events):
    run = Run.objects.create(runnable=make_runnable(user, {}), params={})
    auth_client.post(reverse("workers:run_cancel", args=[run.pk]))
    note = run.runnable.note
    assert finished_events == [
        {"signal": run_finished, "run_id": run.pk, "note_id": note.pk, "user_id": user.pk, "status": Run.CANCELLED}
    ]
    assert execute_run(run.pk, "host") == Run.CANCELLED  # its message, delivered later, does nothing
    assert Run.objects.get(pk=run.pk).started is None
    assert Run.redispatch_undelivered() == 0


@pytest.mark.django_db(transaction=True)
def test_reaped_run_is_announced_failed(user, finished_events, settings):
    settings.RUNS_LEASE_SECONDS = 10
    run = Run.objects.create(runnable=make_runnable(user, {}), params={})
    assert run.claim("worker-a", "host-a")
    assert Run.reap_lost(now=timezone.now() + datetime.timedelta(seconds=11)) == 1
    assert [(e["run_id"], e["status"]) for e in finished_events] == [(run.pk, Run.FAILED)]
