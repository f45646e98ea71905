"""Executes one run in a worker: claim the lease, keep the heartbeat, call the job kind's
`run(ctx)`, and record the outcome. Tests call `execute_run` directly; the Celery task
`workers.run_job` is a thin wrapper around it."""

import contextlib
import io
import json
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import traceback
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection

from workers.devices import cpu_name
from workers.jobs import get_kind
from workers.liveness import alive_workers
from workers.models import LeaseLost, Run
from workers.signals import run_finished

logger = logging.getLogger(__name__)

CONTENT_TYPES = {
    "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "json": "application/json",
    "csv": "text/csv", "txt": "text/plain", "md": "text/markdown",
}


class RunCancelled(Exception):
    """The owner asked to cancel; raised by `ctx.check_cancelled()` between steps."""


class JobContext:
    """What a job kind's `run(ctx)` gets: its parameters and the ways to report back.

    - `ctx.log(msg)`, `ctx.progress(pct, step)`: batched, at most two writes a second; the log is
      appended in SQL, never rewritten.
    - `ctx.set_metrics(d)`: call it again as each part finishes (each scale of a sweep): the run
      page's chart grows live. Each call replaces the whole metrics dict.
    - `ctx.torch_device()`: CUDA when there (records device, device name; peak GPU memory is
      recorded at the end), else CPU.
    - `ctx.temp_dir`: a directory of this run alone, removed when the run ends.
    - `with ctx.atomic_path(final) as tmp:` write `tmp`; on success it is renamed to `final` in one
      step (os.replace), on an exception it is deleted: two runs on one host never share a temp
      name, and a crash never leaves a half-written file under `final` for a later run to trust.
    - `ctx.cache_dir`: per-worker-machine cache shared by runs (checkpoints).
    """

    CHECK_EVERY = 1.0  # seconds between two database checks for cancellation
    FLUSH_EVERY = 0.5  # seconds between two writes of progress and log

    def __init__(self, run: Run, owner: str, params: dict):
        self.run = run
        self.run_id = run.pk
        self.owner = owner
        self.params = params
        self.metrics: dict = {}
        self.device_label = ""
        self.cuda_device = None  # set by torch_device() when the job uses CUDA
        self._log: list[str] = []
        self._unsent_log: list[str] = []
        self._temp_dir: Path | None = None
        self._pending: dict = {}
        self._last_flush = 0.0
        self._last_check = 0.0

    # --- progress and log ------------------------------------------------------------
    def progress(self, percent: float, step: str | None = None) -> None:
        self._pending["progress"] = max(0.0, min(100.0, float(percent)))
        if step is not None:
            self._pending["step"] = step[:200]
        self._flush()

    def log(self, message: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        lines = [f"{stamp} {line}" for line in str(message).splitlines() or [""]]
        self._log.extend(lines)
        del self._log[:-2000]  # this process keeps a tail for `log_text`; the row has the whole log
        self._unsent_log.extend(lines)
        self._flush()

    def log_text(self) -> str:
        """The last lines this job logged (the run row holds the whole log)."""
        return "\n".join(self._log)[-settings.RUNS_LOG_MAX_CHARS:]

    def take_unsent_log(self) -> str:
        """Log lines not yet written to the row, each ending with a newline; marks them sent."""
        text = "".join(f"{line}\n" for line in self._unsent_log)
        self._unsent_log = []
        return text

    def _flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if not (self._pending or self._unsent_log) or (not force and now - self._last_flush < self.FLUSH_EVERY):
            return
        if not self.run.record(self.owner, log_append=self.take_unsent_log(), **self._pending):
            raise LeaseLost(self.run_id)
        self._pending, self._last_flush = {}, now

    def check_cancelled(self) -> None:
        """Raise RunCancelled when the owner cancelled (LeaseLost when the run is no longer ours)."""
        now = time.monotonic()
        if now - self._last_check < self.CHECK_EVERY:
            return
        self._last_check = now
        self._flush(force=True)
        state = Run.objects.filter(pk=self.run_id, lease_owner=self.owner, status=Run.RUNNING).values_list(
            "cancel_requested", flat=True
        )
        if not state:
            raise LeaseLost(self.run_id)
        if state[0]:
            raise RunCancelled()

    # --- results -----------------------------------------------------------------------
    def set_metrics(self, metrics: dict) -> None:
        self.metrics = json.loads(json.dumps(metrics))  # must be JSON; fail in the job, not at the end
        if not self.run.record(self.owner, metrics=self.metrics):
            raise LeaseLost(self.run_id)

    def save_artifact(self, name: str, data: bytes | str, content_type: str | None = None):
        if isinstance(data, str):
            data = data.encode()
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        content_type = content_type or CONTENT_TYPES.get(ext, "application/octet-stream")
        return self.run.save_artifact(self.owner, name, data, content_type)

    def save_json(self, name: str, obj) -> None:
        self.save_artifact(name, json.dumps(obj, indent=2, sort_keys=True))

    def save_csv(self, name: str, header: list[str], rows: list[list]) -> None:
        import csv

        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(header)
        writer.writerows(rows)
        self.save_artifact(name, buf.getvalue())

    def save_figure(self, name: str, fig) -> None:
        """A matplotlib figure as PNG (closed afterwards)."""
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        self.save_artifact(name, buf.getvalue(), "image/png")

    # --- device and cache --------------------------------------------------------------
    def torch_device(self):
        """CUDA when the worker has it, else CPU; recorded on the run as device ("cuda:0", "cpu")
        and device name ("NVIDIA H200", the CPU model); `device_label` is both in one string."""
        import torch

        if torch.cuda.is_available():
            device = torch.device("cuda", torch.cuda.current_device())
            name = torch.cuda.get_device_name(device)
            torch.cuda.reset_peak_memory_stats(device)
            self.cuda_device = device
        else:
            device = torch.device("cpu")
            name = cpu_name()
            torch.set_num_threads(max(1, settings.RUNS_CPU_THREADS))
        self.device_label = f"{device}: {name}"
        self.run.record(self.owner, device=str(device), device_name=name[:200])
        return device

    def peak_memory_bytes(self) -> int | None:
        """Peak GPU memory allocated since torch_device(), None when the job did not use CUDA."""
        if self.cuda_device is None:
            return None
        import torch

        return int(torch.cuda.max_memory_allocated(self.cuda_device))

    @property
    def temp_dir(self) -> Path:
        if self._temp_dir is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix=f"lablog-run-{self.run_id}-"))
        return self._temp_dir

    @contextlib.contextmanager
    def atomic_path(self, final):
        """Yield a unique temporary path next to `final`; renamed onto it only if the block succeeds."""
        final = Path(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.close(fd)
        tmp = Path(tmp)
        try:
            yield tmp
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)

    def cleanup(self) -> None:
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)

    @property
    def cache_dir(self):
        path = settings.RUNS_CACHE_DIR
        path.mkdir(parents=True, exist_ok=True)
        return path


class _Heartbeat:
    """Stamps the run's heartbeat from a thread while the job computes."""

    def __init__(self, run: Run, owner: str):
        self.run, self.owner = run, owner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"run-{run.pk}-heartbeat", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)

    def _beat(self):
        try:
            while not self._stop.wait(settings.RUNS_HEARTBEAT_SECONDS):
                try:
                    still_mine, _ = self.run.beat(self.owner)
                except Exception:  # a database hiccup: the next beat tries again
                    logger.exception("heartbeat of run %s failed", self.run.pk)
                    continue
                if not still_mine:
                    return
        finally:
            connection.close()  # this thread's own connection


def execute_run(run_id: int, worker_host: str = "") -> str | None:
    """Run one queued run to its end; returns its final status (None when the row is gone).

    A run that is not queued any more (cancelled before it started, re-delivered after the
    reaper failed it, or taken by another worker) is left alone.
    """
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        return None
    owner = uuid.uuid4().hex
    if not run.claim(owner, worker_host or socket.gethostname()):
        return run.status
    kind = get_kind(run.kind)
    ctx = JobContext(run, owner, dict(run.params))
    status, error, tb = Run.SUCCEEDED, "", ""
    try:
        with _Heartbeat(run, owner):
            try:
                if kind is None:
                    raise RuntimeError(f"unknown job kind {run.kind!r} on this worker")
                available, reason = kind.available()
                if not available:
                    raise RuntimeError(f"{kind.title} is unavailable on this worker: {reason}")
                params, errors = kind.validate(run.params)
                if errors:
                    raise ValueError(f"invalid parameters: {errors}")
                model = kind.model_param
                if model is not None and params[model.name] not in (kind.worker_offer() or {}).get("models", []):
                    # Routing sends a run only to workers that announce its model; this is the last guard.
                    raise RuntimeError(f"this worker has no model {params[model.name]!r} for {kind.name}")
                ctx.params = params
                ctx.log(f"{kind.name} on {run.worker_host}, params {json.dumps(params)}")
                kind.run(ctx)
            except RunCancelled:
                status = Run.CANCELLED
                ctx.log("cancelled by the owner")
            except LeaseLost:
                raise
            except Exception as exc:
                status, error, tb = Run.FAILED, f"{type(exc).__name__}: {exc}", traceback.format_exc()
                ctx.log(f"failed: {error}")
    except LeaseLost:
        logger.warning("run %s: lease lost, result dropped", run_id)
        return Run.objects.filter(pk=run_id).values_list("status", flat=True).first()
    finally:
        ctx.cleanup()
    step = {Run.SUCCEEDED: "done", Run.CANCELLED: "cancelled", Run.FAILED: "failed"}[status]
    extra = {}
    try:
        peak = ctx.peak_memory_bytes()
    except Exception:  # a broken CUDA context must not lose the result
        logger.exception("run %s: could not read peak GPU memory", run_id)
        peak = None
    if peak is not None:
        extra["peak_memory_bytes"] = peak
    if run.finish(owner, status, error=error, traceback=tb, log_append=ctx.take_unsent_log(), metrics=ctx.metrics,
                  step=step, **extra):
        note = run.runnable.note
        run_finished.send(sender=Run, run_id=run.pk, note_id=note.pk, user_id=note.user_id, status=status)
    else:
        logger.warning("run %s: lease lost before the result was written", run_id)
    return Run.objects.filter(pk=run_id).values_list("status", flat=True).first()


def idle_queues() -> set[str]:
    """Queues with a live worker that holds no running run (empty when Redis does not answer)."""
    busy = set(Run.objects.filter(status=Run.RUNNING).values_list("worker_host", flat=True))
    return {q for w in alive_workers() or [] if w["hostname"] not in busy for q in w["queues"]}


def recover_runs(now=None) -> dict:
    """What the periodic reaper does: fail runs whose worker died, send again runs never delivered."""
    return {
        "failed": Run.reap_lost(now),
        "redispatched": Run.redispatch_undelivered(now, idle_queues()),
    }
