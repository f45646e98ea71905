"""A run's log is appended in SQL (never rewritten), and leases live on the database clock:
a worker whose own clock is minutes off keeps its lease."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notes.models import Note
from workers.models import Run, Runnable
from workers.runner import JobContext


@pytest.fixture
def run(user):
    note = Note.objects.create_note(user, title="Logs")
    run = Run.objects.create(runnable=Runnable.objects.create(note=note, kind="cfg_diffusion", params={}), params={})
    assert run.claim("me", "host")
    return run


def test_each_flush_sends_only_the_new_lines(run):
    ctx = JobContext(run, "me", {})
    ctx.FLUSH_EVERY = 0
    earlier = "an early line " + "x" * 5000
    ctx.log(earlier)
    with CaptureQueriesContext(connection) as queries:
        for i in range(20):
            ctx.log(f"line {i}")
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 20
    assert not any("x" * 5000 in sql for sql in updates), "a flush re-sent the whole log"
    run.refresh_from_db()
    lines = run.log.splitlines()
    assert lines[0].endswith(earlier) and [line.split(" ", 1)[1] for line in lines[1:]] == [f"line {i}" for i in range(20)]


def test_the_row_keeps_the_last_characters_when_the_log_outgrows_the_limit(run, settings):
    settings.RUNS_LOG_MAX_CHARS = 300
    ctx = JobContext(run, "me", {})
    ctx.FLUSH_EVERY = 0
    for i in range(100):
        ctx.log(f"step {i:03d}")
    run.refresh_from_db()
    assert len(run.log) == 300
    assert run.log.endswith("step 099\n") and "step 000" not in run.log


def test_finish_appends_what_was_not_flushed(run):
    ctx = JobContext(run, "me", {})
    ctx.log("first")  # flushed at once (nothing flushed before)
    ctx.log("second")  # within FLUSH_EVERY: pending
    assert run.finish("me", Run.SUCCEEDED, log_append=ctx.take_unsent_log())
    run.refresh_from_db()
    assert [line.split(" ", 1)[1] for line in run.log.splitlines()] == ["first", "second"]


def test_a_worker_clock_minutes_behind_does_not_lose_its_lease(run, settings, monkeypatch):
    settings.RUNS_LEASE_SECONDS = 60
    behind = timezone.now() - datetime.timedelta(minutes=10)
    monkeypatch.setattr(timezone, "now", lambda: behind)  # the worker's host clock
    assert run.beat("me") == (True, False)
    assert run.record("me", progress=10)
    monkeypatch.undo()
    assert Run.reap_lost() == 0  # judged on the database clock, as it was written
    run.refresh_from_db()
    assert run.status == Run.RUNNING
    assert abs((run.heartbeat - timezone.now()).total_seconds()) < 30


def test_a_run_whose_heartbeat_stopped_is_still_reaped(run, settings):
    settings.RUNS_LEASE_SECONDS = 60
    Run.objects.filter(pk=run.pk).update(heartbeat=timezone.now() - datetime.timedelta(minutes=2))
    assert Run.reap_lost() == 1
    run.refresh_from_db()
    assert run.status == Run.FAILED and run.error == Run.WORKER_LOST
