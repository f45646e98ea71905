"""The runnable demos end to end on this machine: `manage.py jobworkers` (one job worker per
visible GPU, else one CPU worker) over an isolated Lablog, a note and a runnable per run with
the kind's default parameters, each run sent through the same queue as the web app.

Prints, per run: where it ran (device, its name, worker), peak GPU memory, seconds queued and
running, whether it reused a cached checkpoint (a kind named twice runs from the cache the
second time) and its headline metrics; `--json` adds the full metrics and a last summary line.
`--keep DIR` copies the SQLite database there (artifacts included) to look at the notes after.

    .venv/bin/python bench/demo_runs.py [--runs cfg_diffusion,cfg_diffusion,cfg_text,cfg_distill] [--json]
"""

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, Lab

DEFAULT_RUNS = "cfg_diffusion,cfg_diffusion,cfg_text,cfg_distill"


def start_job_workers(lab: Lab) -> subprocess.Popen:
    """`manage.py jobworkers`, as `make gpu-workers` starts it; returns once a worker announces."""
    from workers.liveness import alive_workers

    log = open(lab.var / "jobworkers.log", "wb")
    proc = subprocess.Popen([sys.executable, "manage.py", "jobworkers", "--loglevel", "WARNING"],
                            cwd=ROOT, env=lab.env, stdout=log, stderr=subprocess.STDOUT)
    lab.workers.append(proc)
    deadline = time.monotonic() + 180
    while not any(w.get("kinds") for w in alive_workers() or []):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("no job worker announced itself (its log follows)")
        time.sleep(0.5)
    return proc


def run_once(user, kind_name: str, timeout: float) -> dict:
    from notes.models import Note
    from workers.forms import ParamsForm
    from workers.jobs import get_kind
    from workers.models import Run, Runnable

    kind = get_kind(kind_name)
    form = ParamsForm(kind, {p.name: p.format(p.default) for p in kind.params})
    if not form.is_valid():
        raise RuntimeError(f"{kind_name}: default parameters rejected: {form.errors}")
    note = Note.objects.create_note(user, title=f"{kind.title} (bench)")
    run = Runnable.objects.create(note=note, kind=kind.name, params=form.params).start_run()
    sent = time.monotonic()
    while not run.ended:
        if time.monotonic() - sent > timeout:
            raise TimeoutError(f"run {run.pk} of {kind_name} still {run.status} after {timeout:.0f}s")
        time.sleep(0.25)
        run.refresh_from_db()
    return {
        "kind": kind_name, "run": run.pk, "note": note.pk, "status": run.status, "error": run.error,
        "device": run.device, "device_name": run.device_name, "worker": run.worker_host,
        "peak_gpu_memory_mib": round(run.peak_memory_bytes / 2**20, 1) if run.peak_memory_bytes else None,
        "queued_s": round((run.started - run.created).total_seconds(), 2) if run.started else None,
        "running_s": round((run.finished - run.started).total_seconds(), 2) if run.started else None,
        "from_cache": "reused checkpoint" in run.log,
        "artifacts": list(run.artifacts.values_list("name", flat=True)),
        "metrics": run.metrics,
    }


def report(result: dict, as_json: bool) -> None:
    where = result["device_name"] or result["device"]
    memory = f", peak {result['peak_gpu_memory_mib']} MiB" if result["peak_gpu_memory_mib"] else ""
    print(f"{result['kind']}: {result['status']} on {where} ({result['device']}, {result['worker']}){memory}; "
          f"queued {result['queued_s']} s, ran {result['running_s']} s"
          f"{' from the cached checkpoint' if result['from_cache'] else ''}"
          f"{'; ' + result['error'] if result['error'] else ''}", flush=True)
    if result["metrics"]:
        print(f"  {headline(result['metrics'])}", flush=True)
    if as_json:
        print(json.dumps(result), flush=True)


def headline(metrics: dict) -> str:
    """The series metrics (one value per scale) in one short line."""
    parts = []
    for name, value in metrics.items():
        if isinstance(value, dict) and all(isinstance(v, (int, float)) for v in value.values()):
            parts.append(f"{name} " + "/".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in value.values()))
    return "; ".join(parts[:4])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default=DEFAULT_RUNS, help="comma-separated job kinds, run in this order")
    parser.add_argument("--timeout", type=float, default=900, help="seconds one run may take")
    parser.add_argument("--keep", type=Path, help="copy the SQLite database (runs, artifacts) into this folder")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with Lab("demos") as lab:
        # An empty checkpoint cache unless one is given: the first run of a kind trains its model.
        lab.env.setdefault("RUNS_CACHE_DIR", str(lab.var / "cache"))
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.create_user("bench", password="bench-demo-runs")
        started = time.monotonic()
        results, all_succeeded = [], False
        try:
            start_job_workers(lab)
            worker_start_s = time.monotonic() - started
            for kind_name in [k.strip() for k in args.runs.split(",") if k.strip()]:
                results.append(run_once(user, kind_name, args.timeout))
                report(results[-1], args.json)
            all_succeeded = all(r["status"] == "succeeded" for r in results)
        finally:
            if not all_succeeded:
                # The Lab's folder goes with it: show why here.
                log = lab.var / "jobworkers.log"
                tail = log.read_text(errors="replace").splitlines()[-40:] if log.exists() else []
                print("\n".join(["job workers' log, last lines:", *tail]), file=sys.stderr)
        if args.keep and "DATABASE_URL" in lab.env:
            print("--keep copies the SQLite database only", file=sys.stderr)
        elif args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            from django.db import connection

            connection.close()
            shutil.copy2(lab.var / "lablog.sqlite3", args.keep / "lablog.sqlite3")
        summary = {"worker_start_s": round(worker_start_s, 1), "runs": [
            {k: r[k] for k in ("kind", "status", "device", "device_name", "peak_gpu_memory_mib", "running_s", "from_cache")}
            for r in results]}
        print(json.dumps(summary) if args.json else f"job workers up in {worker_start_s:.1f} s")
        if not all_succeeded:
            sys.exit(1)


if __name__ == "__main__":
    main()
