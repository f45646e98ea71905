"""A note's runnables, runs and artifact bytes in the Lablog JSON export (read back by
importers/lablog_runs.py). Artifact bytes (and a note's files) travel base64-encoded with
their SHA-256, so an import can tell a damaged file from a good one."""

import base64
import hashlib

from workers.models import Runnable

RUN_FIELDS = (
    "kind", "params", "status", "progress", "step", "log", "error", "traceback", "metrics", "device",
    "device_name", "peak_memory_bytes", "worker_host",
)
RUN_TIMES = ("created", "started", "finished")


def _iso(value):
    return value.isoformat() if value else None


def file_data(name: str, content_type: str, data: bytes, created) -> dict:
    """A file in the export (a run's artifact, a note's file): its bytes and their checksum."""
    return {
        "name": name, "content_type": content_type, "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(), "created": _iso(created),
        "data": base64.b64encode(data).decode("ascii"),
    }


def artifact_data(artifact) -> dict:
    return file_data(artifact.name, artifact.content_type, artifact.read_bytes(), artifact.created)


def runnables_data(note) -> list[dict]:
    runnables = Runnable.objects.filter(note=note).order_by("created", "pk").prefetch_related("runs__artifacts")
    return [
        {
            "key": f"lablog:runnable:{runnable.pk}", "kind": runnable.kind, "params": runnable.params,
            "created": _iso(runnable.created),
            "runs": [
                {
                    "key": f"lablog:run:{run.pk}", "id": run.pk,
                    **{name: getattr(run, name) for name in RUN_FIELDS},
                    **{name: _iso(getattr(run, name)) for name in RUN_TIMES},
                    "artifacts": [artifact_data(a) for a in run.artifacts.all()],
                }
                for run in sorted(runnable.runs.all(), key=lambda r: (r.created, r.pk))
            ],
        }
        for runnable in runnables
    ]
