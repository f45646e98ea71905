"""What the runnables panel and a run card show: shared by the note page (through the
`runnables_panel` template tag) and the workers views."""

from workers.jobs import kinds
from workers.liveness import alive_workers

RUNS_SHOWN = 5  # per runnable on the note page; the run page shows any run


def online_queues() -> set[str]:
    return {q for w in alive_workers() or [] for q in w["queues"]}


def worker_online(queue: str) -> bool:
    return queue in online_queues()


def run_card_context(run) -> dict:
    return {"run": run, "worker_online": run.ended or worker_online(run.queue)}


def panel_context(note) -> dict:
    runnables = list(note.runnables.all())
    for runnable in runnables:
        runnable.recent_runs = list(runnable.runs.prefetch_related("artifacts")[:RUNS_SHOWN])
    return {
        "note": note,
        "runnables": runnables,
        "online_queues": online_queues(),
        "kinds": kinds(),
    }
