"""cfg_diffusion end to end: note → runnable → real worker on the gpu queue → artifacts and metrics."""

import pytest
from django.test import override_settings
from django.urls import reverse

from notes.models import Note
from tests.waiting import wait_for_run_end
from workers.models import Run, Runnable
from workers.runner import execute_run
from workers.signals import run_finished

# Training demos: run once, in the PostgreSQL pass of `make test` (they do not depend on the database engine).
pytestmark = pytest.mark.jobs

SMALL = {"diffusion_steps": "40", "training_iterations": "600", "guidance_scales": "0, 1, 3",
         "samples_per_class": "6", "seed": "1"}


@pytest.mark.worker
def test_guided_samples_become_recognisable_digits_end_to_end(auth_client, user, celery_worker, tmp_path):
    note = Note.objects.create_note(user, title="CFG on digits")
    worker = celery_worker(queues=["gpu"], extra_env={"RUNS_CACHE_DIR": str(tmp_path)})
    response = auth_client.post(
        reverse("workers:runnable_add", args=[note.pk]), {"kind": "cfg_diffusion", "run": "1", **SMALL}
    )
    assert response.status_code == 302
    run = Runnable.objects.get(note=note).runs.get()
    run = wait_for_run_end(run, worker)
    assert run.status == Run.SUCCEEDED, f"{run.error}\n{run.traceback}\n{worker.log()}"
    assert run.device == "cpu" and run.worker_host == worker.hostname

    accuracy, diversity = run.metrics["accuracy"], run.metrics["diversity"]
    assert set(accuracy) == set(diversity) == {"0", "1", "3"}
    # Unguided samples are judged near chance; guided ones are mostly the digit asked for.
    assert accuracy["0"] < 0.4
    assert accuracy["1"] > accuracy["0"] + 0.2
    assert accuracy["3"] >= 0.8
    assert diversity["3"] < diversity["0"]  # guidance trades diversity for quality

    names = set(run.artifacts.values_list("name", flat=True))
    assert {"grid_w0.png", "grid_w1.png", "grid_w3.png", "guidance_sweep.png", "metrics.json", "metrics.csv"} <= names
    panel = auth_client.get(reverse("workers:note_runnables", args=[note.pk])).content.decode()
    assert 'data-metric="accuracy"' in panel  # charted on the note
    for name in ["grid_w0.png", "grid_w3.png", "guidance_sweep.png"]:
        assert f'<img src="/runs/{run.pk}/artifacts/{name}"' in panel
    image = auth_client.get(reverse("workers:artifact", args=[run.pk, "guidance_sweep.png"]))
    assert image["Content-Type"] == "image/png" and image.content.startswith(b"\x89PNG")
    page = auth_client.get(reverse("workers:run", args=[run.pk])).content.decode()
    assert "accuracy" in page and "iteration 600/600" in page, run.log


def test_same_seed_same_device_gives_identical_results(transactional_db, user, tmp_path):
    note = Note.objects.create_note(user, title="Determinism")
    params = {"diffusion_steps": 20, "training_iterations": 150, "guidance_scales": [0.0, 2.0],
              "samples_per_class": 3, "seed": 5}
    runnable = Runnable.objects.create(note=note, kind="cfg_diffusion", params=params)
    finished = []
    run_finished.connect(lambda sender, **kw: finished.append(kw), weak=False, dispatch_uid="test-determinism")
    results = []
    for attempt in range(2):
        # A fresh cache each time: training itself, not only sampling, must repeat exactly.
        with override_settings(RUNS_CACHE_DIR=tmp_path / str(attempt)):
            run = Run.objects.create(runnable=runnable, params=params)
            assert execute_run(run.pk, "test") == Run.SUCCEEDED
        run.refresh_from_db()
        grids = {a.name: a for a in run.artifacts.filter(name__startswith="grid_")}
        results.append((run.metrics["accuracy"], run.metrics["diversity"], _read(grids["grid_w2.png"])))
    assert results[0] == results[1]
    assert [f["status"] for f in finished] == ["succeeded", "succeeded"] and finished[0]["note_id"] == note.pk
    run_finished.disconnect(dispatch_uid="test-determinism")
    # And the second run of the same config reuses the cached checkpoint.
    with override_settings(RUNS_CACHE_DIR=tmp_path / "1"):
        run = Run.objects.create(runnable=runnable, params=params)
        execute_run(run.pk, "test")
    run.refresh_from_db()
    assert "reused checkpoint" in run.log and run.metrics["accuracy"] == results[0][0]


def _read(artifact) -> bytes:
    return artifact.read_bytes()


TINY = {"diffusion_steps": 20, "training_iterations": 150, "samples_per_class": 3, "seed": 7}


def _run(runnable, params) -> Run:
    run = Run.objects.create(runnable=runnable, params=params)
    assert execute_run(run.pk, "test") == Run.SUCCEEDED, Run.objects.get(pk=run.pk).traceback
    run.refresh_from_db()
    return run


def test_a_scale_gives_the_same_samples_whatever_else_the_sweep_holds(transactional_db, user, settings, tmp_path):
    """Same checkpoint, seed and scale: same grid and figures, whichever scales surround it."""
    settings.RUNS_CACHE_DIR = tmp_path
    runnable = Runnable.objects.create(note=Note.objects.create_note(user, title="Sweeps"), kind="cfg_diffusion")
    first = _run(runnable, {**TINY, "guidance_scales": [0.0, 4.0]})
    second = _run(runnable, {**TINY, "guidance_scales": [8.0, 1.0, 4.0]})
    assert "reused checkpoint" in second.log
    grid = lambda run: _read(run.artifacts.get(name="grid_w4.png"))  # noqa: E731
    assert grid(first) == grid(second)
    for metric in ("accuracy", "diversity"):
        assert first.metrics[metric]["4"] == second.metrics[metric]["4"]
    # Different scales are different draws, not one shared noise.
    assert _read(second.artifacts.get(name="grid_w1.png")) != _read(second.artifacts.get(name="grid_w8.png"))


def test_a_damaged_checkpoint_is_never_loaded_but_trained_again(transactional_db, user, settings, tmp_path):
    settings.RUNS_CACHE_DIR = tmp_path
    params = {**TINY, "guidance_scales": [2.0]}
    runnable = Runnable.objects.create(note=Note.objects.create_note(user, title="Crash"), kind="cfg_diffusion")
    whole = _run(runnable, params)
    [checkpoint] = tmp_path.glob("digits-ddpm-*.pt")
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data[: len(data) // 2])  # what a worker killed mid-write used to leave
    again = _run(runnable, params)
    assert "discarded a damaged checkpoint" in again.log and "reused checkpoint" not in again.log
    assert again.metrics["accuracy"] == whole.metrics["accuracy"]
    assert checkpoint.read_bytes() == data  # rebuilt whole, and trusted by the next run
    assert "reused checkpoint" in _run(runnable, params).log


@pytest.mark.worker
def test_two_jobs_on_one_host_train_the_same_checkpoint_without_colliding(user, celery_worker, tmp_path):
    """Two runs of one config at once on one worker host (concurrency 2, one cache directory):
    each writes its own temporary file, both succeed, one whole checkpoint is left."""
    worker = celery_worker(queues=["gpu"], concurrency=2, extra_env={"RUNS_CACHE_DIR": str(tmp_path)})
    params = {**TINY, "guidance_scales": [3.0]}
    runnable = Runnable.objects.create(note=Note.objects.create_note(user, title="Twins"), kind="cfg_diffusion",
                                       params=params)
    runs = [runnable.start_run(), runnable.start_run()]
    runs = [wait_for_run_end(run, worker) for run in runs]
    assert [r.status for r in runs] == [Run.SUCCEEDED, Run.SUCCEEDED], [r.error for r in runs]
    assert runs[0].metrics["accuracy"] == runs[1].metrics["accuracy"]
    assert len([f for f in tmp_path.iterdir()]) == 1  # one checkpoint, no temporary files left
    from workers.jobs import _checkpoints

    [checkpoint] = tmp_path.glob("digits-ddpm-*.pt")
    assert _checkpoints.load(checkpoint) is not None
