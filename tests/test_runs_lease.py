"""The run row's lease: only its holder writes, the reaper fails silent runs, re-deliveries do nothing."""

import datetime

import pytest
from django.utils import timezone

from notes.models import Note
from workers.models import LeaseLost, Run, Runnable
from workers.runner import execute_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(user):
    note = Note.objects.create_note(user, title="Lease")
    return Run.objects.create(runnable=Runnable.objects.create(note=note, kind="cfg_diffusion", params={}), params={})


def test_only_one_worker_can_claim_a_run(run):
    assert run.claim("worker-a", "host-a")
    assert not Run.objects.get(pk=run.pk).claim("worker-b", "host-b")
    assert Run.objects.get(pk=run.pk).worker_host == "host-a"


def test_a_worker_that_lost_its_lease_cannot_write_results(run, settings):
    settings.RUNS_LEASE_SECONDS = 10
    assert run.claim("worker-a", "host-a")
    assert Run.reap_lost(now=timezone.now()) == 0  # heartbeat is fresh
    later = timezone.now() + datetime.timedelta(seconds=11)
    assert Run.reap_lost(now=later) == 1
    assert not run.record("worker-a", progress=50)
    assert not run.finish("worker-a", Run.SUCCEEDED, metrics={"accuracy": {"1": 1.0}})
    with pytest.raises(LeaseLost):
        run.save_artifact("worker-a", "grid.png", b"x", "image/png")
    run.refresh_from_db()
    assert run.status == Run.FAILED and "worker lost" in run.error and run.metrics == {}


def test_redelivered_task_of_an_ended_run_changes_nothing(run):
    run.request_cancel()
    assert execute_run(run.pk, "host") == Run.CANCELLED
    run.refresh_from_db()
    assert run.started is None and run.log == ""


def test_task_for_a_deleted_run_exits_quietly(run):
    pk = run.pk
    run.delete()
    assert execute_run(pk, "host") is None
