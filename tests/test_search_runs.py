"""Run summaries are searchable with their note: kind, parameters, metrics and outcome."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from notes.models import Note
from search import indexing, staleness
from search.models import IndexedSource, Passage
from search.services import SearchFilters, search
from tests.waiting import wait_until
from workers.models import Run, RunArtifact, Runnable

TINY = {"diffusion_steps": 10, "training_iterations": 60, "guidance_scales": [0.0, 1.0],
        "samples_per_class": 2, "seed": 0}
ONLY_RUNS = SearchFilters(kinds=("run",))


def ended_run(note, **fields) -> Run:
    runnable = Runnable.objects.create(note=note, kind="cfg_diffusion", params=TINY)
    fields = {"status": Run.SUCCEEDED, "finished": timezone.now(), "device": "cpu", **fields}
    return Run.objects.create(runnable=runnable, params=TINY, **fields)


def run_hits(user, query, mode="keyword"):
    return [h for h in search(user, query, mode=mode, filters=ONLY_RUNS).hits if h.kind == "run"]


@pytest.mark.worker
def test_a_finished_run_is_found_by_its_metrics_and_by_meaning_and_opens_its_run_page(
    auth_client, user, other_user, celery_worker, tmp_path
):
    note = Note.objects.create_note(user, title="Reading the guidance paper", body="Why does guidance trade diversity?")
    celery_worker(queues=["embed", "index", "default"])
    celery_worker(queues=["gpu"], extra_env={"RUNS_CACHE_DIR": str(tmp_path)})
    run = Runnable.objects.create(note=note, kind="cfg_diffusion", params=TINY).start_run()

    def outcome():
        run.refresh_from_db()
        return f"run {run.status}: {run.step}\n{run.traceback}"

    hits = wait_until(lambda: run_hits(user, "cfg_diffusion accuracy diversity"), 180, outcome)
    run.refresh_from_db()
    assert run.status == Run.SUCCEEDED, run.traceback
    assert [h.object_id for h in hits] == [run.pk]
    assert hits[0].url == reverse("workers:run", args=[run.pk]) and hits[0].note_id == note.pk
    summary = "\n".join(Passage.objects.filter(run_id=run.pk).values_list("text", flat=True))
    assert "accuracy" in hits[0].passage and "accuracy: 0=" in summary and "grid_w0.png" in summary

    # By meaning: none of the summary's words, and the run's vectors come from the worker.
    hits = wait_until(lambda: run_hits(user, "an experiment generating handwritten digits", "semantic"), 60,
                      "the run summary was never found by meaning")
    assert [h.object_id for h in hits] == [run.pk]

    page = auth_client.get(reverse("search:results"), {"q": "cfg_diffusion", "kind": "run"}).content.decode()
    assert reverse("workers:run", args=[run.pk]) in page
    assert run_hits(other_user, "cfg_diffusion accuracy") == []


def test_run_summary_lists_parameters_metrics_by_guidance_scale_and_outputs(user):
    note = Note.objects.create_note(user, title="CFG sweep")
    run = ended_run(note, metrics={"accuracy": {"0": 0.1234, "4": 0.98}, "diversity": {"0": 3.5}, "device": "cpu"})
    RunArtifact.objects.create(run=run, name="grid_w4.png", path="runs/x/grid_w4.png", content_type="image/png")
    indexing.index_note(note.pk)

    [hit] = run_hits(user, "diversity")
    assert hit.object_id == run.pk and "diversity" in hit.passage
    # The summary may take several passages (the kind's description is one): together they list it all.
    summary = "\n".join(Passage.objects.filter(run_id=run.pk).order_by("start").values_list("text", flat=True))
    assert "guidance_scales=0, 1" in summary
    assert "accuracy: 0=0.1234, 4=0.98" in summary and "diversity: 0=3.5" in summary
    assert "grid_w4.png" in summary and "succeeded on cpu" in summary


def test_a_failed_run_is_found_by_its_error(user):
    note = Note.objects.create_note(user, title="CFG sweep")
    run = ended_run(note, status=Run.FAILED, error="worker lost: no heartbeat from its worker")
    indexing.index_note(note.pk)
    assert [h.object_id for h in run_hits(user, "heartbeat")] == [run.pk]


def test_run_summaries_are_kept_out_when_the_kind_filter_excludes_runs(user):
    note = Note.objects.create_note(user, title="CFG sweep", body="Plain words about sampling.")
    ended_run(note)
    indexing.index_note(note.pk)
    kinds = [h.kind for h in search(user, "cfg_diffusion sampling", mode="keyword", filters=SearchFilters(kinds=("note",))).hits]
    assert "run" not in kinds


def test_deleting_a_runnable_takes_its_run_summaries_out_of_search(user, django_capture_on_commit_callbacks):
    note = Note.objects.create_note(user, title="CFG sweep")
    run = ended_run(note)
    indexing.index_note(note.pk)
    assert run_hits(user, "cfg_diffusion")
    with django_capture_on_commit_callbacks() as callbacks:
        run.runnable.delete()
    assert callbacks, "deleting a runnable must re-index its note"
    indexing.index_note(note.pk)  # what the enqueued task does
    assert run_hits(user, "cfg_diffusion") == []


def test_reconcile_finds_a_note_whose_run_ended_after_it_was_indexed(user):
    note = Note.objects.create_note(user, title="CFG sweep")
    indexing.index_note(note.pk)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Note.objects.filter(pk=note.pk).update(updated=an_hour_ago)
    IndexedSource.objects.filter(kind="note", object_id=note.pk).update(embedded_at=an_hour_ago)
    assert ("note", note.pk) not in staleness.stale_sources(grace_seconds=0)
    ended_run(note)  # ended now, e.g. while Redis was down: its own re-index was never enqueued
    assert ("note", note.pk) in staleness.stale_sources(grace_seconds=0)
    indexing.index_note(note.pk)
    assert ("note", note.pk) not in staleness.stale_sources(grace_seconds=0)
