"""What the runnables panel and a run card show: shared by the note page (through the
`runnables_panel` template tag) and the workers views."""

from workers.jobs import get_kind, kinds
from workers.liveness import alive_workers, describe_worker

RUNS_SHOWN = 5  # per runnable on the note page; the run page shows any run


def online_queues(workers: list[dict] | None = None) -> set[str]:
    return {q for w in (alive_workers() if workers is None else workers) or [] for q in w["queues"]}


def worker_online(queue: str) -> bool:
    return queue in online_queues()


def waiting_message(kind_name: str, params: dict) -> str:
    """Why a run of this kind (and model) is not running: no live worker can run it."""
    kind = get_kind(kind_name)
    model = kind.model_param if kind else None
    what = kind_name + (f" with model {params.get(model.name) or model.default}" if model else "")
    return f"waiting for a worker that can run {what}"


def run_card_context(run) -> dict:
    return {"run": run, "worker_online": run.ended or worker_online(run.queue)}


def runnable_workers(runnable, workers: list[dict] | None) -> list[str]:
    """The live workers that would take a run of this runnable now, described for the page."""
    kind = get_kind(runnable.kind)
    if kind is None:
        return []
    queue = kind.route(runnable.params)
    return [describe_worker(w) for w in workers or [] if queue in w["queues"]]


def panel_context(note) -> dict:
    workers = alive_workers()
    runnables = list(note.runnables.all())
    for runnable in runnables:
        runnable.recent_runs = list(runnable.runs.prefetch_related("artifacts")[:RUNS_SHOWN])
        runnable.live_workers = runnable_workers(runnable, workers)
        runnable.waiting_for = "" if runnable.live_workers else waiting_message(runnable.kind, runnable.params)
        runnable.queued_runs = sum(run.status == "queued" for run in runnable.recent_runs)
    return {
        "note": note,
        "runnables": runnables,
        "online_queues": online_queues(workers),
        "kinds": kinds(),
    }
