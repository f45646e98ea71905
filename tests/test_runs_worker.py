"""Runs on a real worker: waiting for a GPU worker, cancelling, and a worker killed mid-run."""

import time

import pytest
from django.urls import reverse

from lablog.celery import app
from notes.models import Note
from tests.waiting import wait_for_run_end, wait_until
from workers.models import Run, Runnable
from workers.tasks import reap_lost_runs

pytestmark = pytest.mark.worker

TINY = {"diffusion_steps": 10, "training_iterations": 60, "guidance_scales": [0.0, 1.0],
        "samples_per_class": 2, "seed": 0}
# Long enough to be cancelled or killed mid-training, still under the cost cap.
LONG = {"diffusion_steps": 10, "training_iterations": 15000, "guidance_scales": [0.0],
        "samples_per_class": 2, "seed": 0}
FAST_LEASE = {"RUNS_HEARTBEAT_SECONDS": "1"}


def make_runnable(user, params):
    note = Note.objects.create_note(user, title="Runs on a worker")
    return Runnable.objects.create(note=note, kind="cfg_diffusion", params=params)


def status_of(run):
    run.refresh_from_db()
    return run.status


def test_queued_run_says_no_gpu_worker_then_starts_when_one_connects(auth_client, user, celery_worker, tmp_path):
    runnable = make_runnable(user, TINY)
    run = runnable.start_run()
    panel = auth_client.get(reverse("workers:note_runnables", args=[runnable.note_id])).content.decode()
    assert "1 run waiting for a worker that can run cfg_diffusion" in panel
    assert status_of(run) == Run.QUEUED

    worker = celery_worker(queues=["gpu"], extra_env={"RUNS_CACHE_DIR": str(tmp_path)})
    wait_for_run_end(run, worker)
    assert run.status == Run.SUCCEEDED, run.traceback
    panel = auth_client.get(reverse("workers:note_runnables", args=[runnable.note_id])).content.decode()
    assert "waiting for a worker" not in panel
    assert f"Runs on {worker.hostname} (" in panel


def test_cancel_stops_a_running_job_within_seconds(auth_client, user, celery_worker, tmp_path):
    runnable = make_runnable(user, LONG)
    worker = celery_worker(queues=["gpu"], extra_env={**FAST_LEASE, "RUNS_CACHE_DIR": str(tmp_path)})
    run = runnable.start_run()
    wait_until(lambda: status_of(run) == Run.RUNNING and run.step.startswith("training"), 60,
               lambda: f"{run.status} {run.step}\n{worker.log()}")
    response = auth_client.post(reverse("workers:run_cancel", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert "cancelling" in response.content.decode()
    asked = time.monotonic()
    wait_until(lambda: status_of(run) == Run.CANCELLED, 15, lambda: f"{run.status} {run.step}\n{worker.log()}")
    assert time.monotonic() - asked < 10
    assert run.progress < 100 and "cancelled by the owner" in run.log
    # The worker carries on with the next job.
    small = Runnable.objects.create(note=runnable.note, kind="cfg_diffusion", params=TINY).start_run()
    wait_for_run_end(small, worker)
    assert small.status == Run.SUCCEEDED


def test_cancelling_a_queued_run_means_it_never_starts(auth_client, user, celery_worker, tmp_path):
    runnable = make_runnable(user, TINY)
    run = runnable.start_run()
    auth_client.post(reverse("workers:run_cancel", args=[run.pk]))
    assert status_of(run) == Run.CANCELLED
    worker = celery_worker(queues=["gpu"], extra_env={"RUNS_CACHE_DIR": str(tmp_path)})
    after = runnable.start_run()
    wait_for_run_end(after, worker)
    assert status_of(run) == Run.CANCELLED and run.started is None


def test_killed_worker_run_is_failed_as_worker_lost_and_can_be_rerun(auth_client, user, celery_worker, settings, tmp_path):
    settings.RUNS_LEASE_SECONDS = 3
    runnable = make_runnable(user, LONG)
    worker = celery_worker(queues=["gpu"], extra_env={**FAST_LEASE, "RUNS_CACHE_DIR": str(tmp_path)})
    run = runnable.start_run()
    wait_until(lambda: status_of(run) == Run.RUNNING and run.step.startswith("training"), 60,
               lambda: f"{run.status} {run.step}\n{worker.log()}")
    assert reap_lost_runs()["failed"] == 0  # a live run is left alone
    worker.kill()
    killed = time.monotonic()

    def reaped():
        reap_lost_runs()  # what beat sends every RUNS_REAPER_SECONDS
        return status_of(run) == Run.FAILED

    wait_until(reaped, 15, lambda: f"{run.status} heartbeat {run.heartbeat}")
    assert time.monotonic() - killed <= settings.RUNS_LEASE_SECONDS + 3
    assert "worker lost" in run.error

    panel = auth_client.get(reverse("workers:note_runnables", args=[runnable.note_id])).content.decode()
    assert "worker lost" in panel and "Re-run" in panel
    auth_client.post(reverse("workers:run_rerun", args=[run.pk]))
    again = runnable.runs.first()
    assert again.pk != run.pk and again.status == Run.QUEUED and again.params == run.params


def test_beat_schedules_the_reaper_task():
    from django.conf import settings

    entry = settings.WORKERS_BEAT_SCHEDULE["reap-lost-runs"]
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks
    assert entry["schedule"] <= settings.RUNS_LEASE_SECONDS
