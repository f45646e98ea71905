"""Runnables and runs over the API: create a runnable on a note, start runs, cancel,
read status and artifacts. Parameters are checked by the job kind, as in the web form."""

import json
from datetime import datetime
from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import get_script_prefix
from ninja import Field, Path, Router, Schema
from ninja.responses import Status

from api.schemas import MAX_ID, Error, Text
from notes.models import Note
from workers.jobs import get_kind
from workers.models import Run, Runnable
from workers.panel import worker_online

router = Router(tags=["runs"])
Id = Path(..., ge=1, le=MAX_ID)
ERRORS = {400: Error, 401: Error, 404: Error, 413: Error, 422: Error}


class RunnableIn(Schema):
    kind: Text = Field(..., max_length=64)
    params: dict[str, Any] = {}


class ParamsIn(Schema):
    params: dict[str, Any] | None = None


class RunnableOut(Schema):
    id: int
    note_id: int
    kind: str
    params: dict[str, Any]
    created: datetime


class ArtifactOut(Schema):
    name: str
    content_type: str
    size: int
    created: datetime
    download: str


class RunOut(Schema):
    id: int
    runnable_id: int
    kind: str
    params: dict[str, Any]
    status: str
    progress: float
    step: str
    error: str
    metrics: dict[str, Any]
    device: str
    device_name: str
    peak_memory_bytes: int | None
    waiting_for: str = Field(description="What a queued run no live worker can take waits for; empty otherwise.")
    created: datetime
    started: datetime | None
    finished: datetime | None
    log_tail: str
    artifacts: list[ArtifactOut]


class InvalidParams(Exception):
    pass


def checked_params(kind_name: str, raw: dict) -> dict:
    """The kind's typed parameters; InvalidParams (422) says what is wrong."""
    kind = get_kind(kind_name)
    if kind is None:
        raise InvalidParams(f"no job kind {kind_name!r}")
    if "\\u0000" in json.dumps(raw):
        raise InvalidParams("parameters must not contain NUL characters")
    values, errors = kind.validate(raw)
    if errors:
        raise InvalidParams("; ".join(f"{name}: {', '.join(msgs)}" for name, msgs in errors.items()))
    return values


def _runnable_out(r: Runnable) -> dict:
    return {"id": r.pk, "note_id": r.note_id, "kind": r.kind, "params": r.params, "created": r.created}


def _run_out(run: Run) -> dict:
    return {
        **{f: getattr(run, f) for f in ("kind", "params", "status", "progress", "step", "error", "metrics", "device",
                                         "device_name", "peak_memory_bytes", "created", "started", "finished")},
        "id": run.pk, "runnable_id": run.runnable_id, "log_tail": run.log_tail(),
        # Whether a worker can run it is known from the workers' announcements, never from this process.
        "waiting_for": run.waiting_for if run.status == Run.QUEUED and not worker_online(run.queue) else "",
        "artifacts": [
            {"name": a.name, "content_type": a.content_type, "size": a.size, "created": a.created,
             "download": f"{get_script_prefix()}api/runs/{run.pk}/artifacts/{a.name}"}
            for a in run.artifacts.all()
        ],
    }


@router.get("/runnables/", response={200: list[RunnableOut], **ERRORS})
def list_runnables(request):
    return [_runnable_out(r) for r in Runnable.objects.for_user(request.auth)]


@router.post("/notes/{note_id}/runnables", response={201: RunnableOut, **ERRORS})
def create_runnable(request, payload: RunnableIn, note_id: int = Id):
    note = get_object_or_404(Note.objects.for_user(request.auth), pk=note_id)
    params = checked_params(payload.kind, payload.params)
    return Status(201, _runnable_out(Runnable.objects.create(note=note, kind=payload.kind, params=params)))


@router.get("/runnables/{runnable_id}", response={200: RunnableOut, **ERRORS})
def get_runnable(request, runnable_id: int = Id):
    return _runnable_out(get_object_or_404(Runnable.objects.for_user(request.auth), pk=runnable_id))


@router.patch("/runnables/{runnable_id}", response={200: RunnableOut, **ERRORS})
def update_runnable(request, payload: ParamsIn, runnable_id: int = Id):
    runnable = get_object_or_404(Runnable.objects.for_user(request.auth), pk=runnable_id)
    runnable.update_params(checked_params(runnable.kind, payload.params or {}))
    return _runnable_out(runnable)


@router.delete("/runnables/{runnable_id}", response={204: None, **ERRORS})
def delete_runnable(request, runnable_id: int = Id):
    get_object_or_404(Runnable.objects.for_user(request.auth), pk=runnable_id).delete()
    return Status(204, None)


@router.post("/runnables/{runnable_id}/runs", response={201: RunOut, **ERRORS})
def start_run(request, payload: ParamsIn, runnable_id: int = Id):
    """Start a run with the runnable's parameters, or with the ones given (checked by the kind)."""
    runnable = get_object_or_404(Runnable.objects.for_user(request.auth), pk=runnable_id)
    params = checked_params(runnable.kind, runnable.params if payload.params is None else payload.params)
    return Status(201, _run_out(runnable.start_run(params)))


@router.get("/runs/", response={200: list[RunOut], **ERRORS})
def list_runs(request, limit: int = 50):
    limit = max(1, min(limit, 200))
    return [_run_out(r) for r in Run.objects.for_user(request.auth).prefetch_related("artifacts")[:limit]]


@router.get("/runs/{run_id}", response={200: RunOut, **ERRORS})
def get_run(request, run_id: int = Id):
    return _run_out(get_object_or_404(Run.objects.for_user(request.auth), pk=run_id))


@router.post("/runs/{run_id}/cancel", response={200: RunOut, **ERRORS})
def cancel_run(request, run_id: int = Id):
    run = get_object_or_404(Run.objects.for_user(request.auth), pk=run_id)
    run.request_cancel()
    return _run_out(run)


@router.get("/runs/{run_id}/artifacts/{name}", response={200: None, **ERRORS})
def download_artifact(request, name: str, run_id: int = Id):
    """The artifact file, with the same type checks and headers as the web download."""
    from workers.views.artifacts import artifact

    request.user = request.auth
    return artifact.__wrapped__(request, run_id=run_id, name=name)
