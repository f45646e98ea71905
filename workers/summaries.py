"""Run summaries for search: each ended run of a note becomes text indexed with the note
(kind, parameters, metrics, artifacts, outcome), so "the guidance sweep where accuracy
hit 0.95" finds the note and opens it at the run.

Registered with search indexing in WorkersConfig.ready(); the note is re-indexed when one of
its runs ends or is deleted (and reconcile catches any it missed).
"""

from django.db import transaction
from django.db.models import Max

from search.indexing import RunSummary, RunSummarySource
from workers.models import Run

# The most recent runs of a note that are indexed; older ones stay on their run pages.
MAX_RUNS_PER_NOTE = 50
MAX_METRICS_CHARS = 1500


def _value(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v) for v in value)
    return str(value)


def _metric_lines(metrics: dict, prefix: str = "") -> list[str]:
    """`accuracy: 0=0.12, 1=0.95` for a metric keyed by guidance scale; nested keys joined."""
    lines = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and not any(isinstance(v, dict) for v in value.values()):
            lines.append(f"{name}: " + ", ".join(f"{k}={_value(v)}" for k, v in value.items()))
        elif isinstance(value, dict):
            lines.extend(_metric_lines(value, prefix=f"{name} "))
        else:
            lines.append(f"{name}: {_value(value)}")
    return lines


def summary_text(run: Run, artifact_names: list[str]) -> str:
    kind = run.runnable.job
    title = f"{kind.title} ({run.kind})" if kind else run.kind
    where = f" on {run.device}" if run.device else ""
    if run.device_name:
        where += f" ({run.device_name})"  # so "H200" or "Xeon" finds the runs made there
    lines = [f"Run {run.pk}: {title}, {run.status}{where}."]
    if kind and kind.description:
        lines.append(kind.description)
    if run.params:
        lines.append("Parameters: " + "; ".join(f"{name}={_value(value)}" for name, value in run.params.items()))
    metrics = "\n".join(_metric_lines(run.metrics or {}))
    if metrics:
        lines.append("Metrics:\n" + metrics[:MAX_METRICS_CHARS])
    if artifact_names:
        lines.append("Outputs: " + ", ".join(artifact_names))
    if run.error:
        lines.append("Error: " + run.error.strip().splitlines()[0][:300])
    return "\n".join(lines)


def for_note(note_id: int) -> list[RunSummary]:
    runs = list(
        Run.objects.filter(runnable__note_id=note_id, status__in=Run.ENDED)
        .select_related("runnable")
        .prefetch_related("artifacts")
        .defer("log", "traceback")
        .order_by("-finished", "-pk")[:MAX_RUNS_PER_NOTE]
    )
    return [
        RunSummary(
            run_id=run.pk,
            text=summary_text(run, [a.name for a in run.artifacts.all()]),
            stamp=f"{run.status}:{run.finished.isoformat() if run.finished else ''}",
        )
        for run in runs
    ]


def last_changed() -> dict:
    """Note id -> when a run of it last ended."""
    ended = Run.objects.filter(status__in=Run.ENDED).exclude(finished=None)
    return dict(ended.values("runnable__note_id").annotate(last=Max("finished")).values_list("runnable__note_id", "last"))


SOURCE = RunSummarySource(for_note=for_note, last_changed=last_changed)


def reindex_note(note_id: int) -> None:
    """Index the note again (its run summaries changed) once the current transaction commits."""
    from search.receivers import enqueue
    from search.tasks import index_note

    transaction.on_commit(lambda: enqueue(index_note, note_id))
