"""Web and beat on host A; a job worker on host B that shares nothing with A but PostgreSQL and
Redis over TCP: its own copy of the code, var dir, media root and cache, even its own clock.

Host B is simulated by a copy of the code in a temporary directory, started from there with its
own LABLOG_VAR_DIR and MEDIA_ROOT; this process (with its own var dir) is host A."""

import datetime
import shutil
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone

from notes.models import Note
from tests.celery_worker import ROOT, CeleryWorker
from tests.waiting import wait_until
from workers.models import Run, Runnable
from workers.runner import recover_runs

pytestmark = pytest.mark.worker

TINY = {"diffusion_steps": 10, "training_iterations": 60, "guidance_scales": [0.0, 2.0],
        "samples_per_class": 2, "seed": 0}
SKEW_SECONDS = -600  # host B's clock is ten minutes behind

# Loaded by host B's interpreter at start-up (PYTHONPATH): its clock, as the code reads it
# (time.time and django.utils.timezone.now), is moved by LABLOG_TEST_CLOCK_OFFSET seconds; on its
# first reading it writes what it believes "now" is, so the test can check the skew took hold.
SITECUSTOMIZE = '''
import datetime, importlib.abc, importlib.util, os, sys, time

OFFSET = float(os.environ.get("LABLOG_TEST_CLOCK_OFFSET", "0"))


class SkewDjangoClock(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "django.utils.timezone":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        exec_module = spec.loader.exec_module

        def exec_skewed(module):
            exec_module(module)
            real_now, proved = module.now, []

            def now():
                value = real_now() + datetime.timedelta(seconds=OFFSET)
                if not proved:
                    proved.append(1)
                    with open(os.environ["LABLOG_TEST_CLOCK_PROOF"], "w") as f:
                        f.write(value.isoformat())
                return value

            module.now = now

        spec.loader.exec_module = exec_skewed
        return spec


if OFFSET:
    _real_time = time.time
    time.time = lambda: _real_time() + OFFSET
    sys.meta_path.insert(0, SkewDjangoClock())
'''


@pytest.fixture(scope="module")
def host_b_code(tmp_path_factory):
    """A copy of the code as host B would have it (no var dir, no media, no virtualenv)."""
    root = tmp_path_factory.mktemp("host-b") / "lablog"
    shutil.copytree(ROOT, root, ignore=shutil.ignore_patterns(
        ".venv", "var", ".git", "test-output", "node_modules", "__pycache__", "*.sqlite3", "bench", "shared"))
    hooks = root.parent / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return root


@pytest.fixture
def host_b(host_b_code, tmp_path, transactional_db):
    started = []

    def start(**env):
        var = tmp_path / "host-b-var"
        worker = CeleryWorker(queues=["gpu"], cwd=host_b_code, extra_env={
            "LABLOG_VAR_DIR": str(var), "MEDIA_ROOT": str(var / "media"), "RUNS_CACHE_DIR": str(var / "cache"),
            "RUNS_HEARTBEAT_SECONDS": "1", "CUDA_VISIBLE_DEVICES": "",
            "PYTHONPATH": str(host_b_code.parent / "hooks"), **env,
        })
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()


def run_on_host_b(user, worker, reap=False) -> Run:
    note = Note.objects.create_note(user, title="Sweep on the GPU host")
    run = Runnable.objects.create(note=note, kind="cfg_diffusion", params=TINY).start_run()
    deadline = time.monotonic() + 180
    while True:
        if reap:
            recover_runs()  # what beat does on host A every RUNS_REAPER_SECONDS
        run.refresh_from_db()
        if run.ended:
            return run
        assert time.monotonic() < deadline, f"{run.status} {run.step}\n{worker.log()}"
        time.sleep(0.5)


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


def test_artifacts_written_on_host_b_are_served_by_host_a_with_todays_rules(host_b, host_b_code, user, auth_client,
                                                                             other_client, tmp_path):
    worker = host_b()
    run = run_on_host_b(user, worker)
    assert run.status == Run.SUCCEEDED, run.traceback + worker.log()
    assert run.worker_host == worker.hostname and run.device == "cpu" and run.device_name

    grid = run.artifacts.get(name="grid_w2.png")
    response = auth_client.get(grid.get_absolute_url())
    assert response.status_code == 200
    served = response.content
    assert served.startswith(b"\x89PNG\r\n\x1a\n") and len(served) == grid.size > 1000
    assert served == grid.read_bytes()
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="grid_w2.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"
    table = run.artifacts.exclude(content_type__startswith="image/").first()
    if table is not None:
        response = auth_client.get(table.get_absolute_url())
        assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment;")
        assert b"".join(response) == table.read_bytes()
    # Another user gets the same 404 as for a missing file.
    assert other_client.get(grid.get_absolute_url()).status_code == 404
    # No file was involved: nothing under either host's media root.
    assert files_under(tmp_path / "host-b-var" / "media") == []
    assert [p for p in files_under(Path(django_settings.MEDIA_ROOT)) if f"runs/{run.pk}/" in str(p)] == []
    # The run card on host A shows the grid inline.
    panel = auth_client.get(reverse("workers:note_runnables", args=[run.runnable.note_id])).content.decode()
    assert f'<img src="/runs/{run.pk}/artifacts/grid_w2.png"' in panel


def test_a_worker_whose_clock_is_ten_minutes_behind_keeps_its_lease(host_b, host_b_code, user, settings, tmp_path):
    settings.RUNS_LEASE_SECONDS = 20
    proof = tmp_path / "host-b-now.txt"
    worker = host_b(LABLOG_TEST_CLOCK_OFFSET=str(SKEW_SECONDS), LABLOG_TEST_CLOCK_PROOF=str(proof))

    run = run_on_host_b(user, worker, reap=True)
    believed = datetime.datetime.fromisoformat(proof.read_text())
    assert abs((timezone.now() - believed).total_seconds() + SKEW_SECONDS) < 300, "host B's clock is not skewed"
    assert run.status == Run.SUCCEEDED, f"{run.error}\n{worker.log()}"
    assert run.error == ""
    # Its timestamps are the database's: started and finished are now, not ten minutes ago.
    assert abs((timezone.now() - run.finished).total_seconds()) < 60
    assert run.started <= run.finished
