"""Runnables and runs over the API: create, start, status, cancel, artifacts; checked params."""

import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from api.models import ApiToken
from lablog.redis_clients import redis_client
from notes.models import Note
from workers.jobs import kinds
from workers.liveness import Heartbeat
from workers.models import Run, RunArtifact, Runnable


@pytest.fixture
def api(client, user):
    raw = ApiToken.issue(user, "tests", days=1)[1]

    def call(method, path, body=None):
        kwargs = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return getattr(client, method)(path, **kwargs)

    return call


@pytest.fixture
def kind():
    available = [k for k in kinds().values() if k.available()[0]]
    if not available:
        pytest.skip("no job kind is available on this machine")
    return available[0]


def test_runnable_is_created_started_and_cancelled(api, user, kind):
    note = Note.objects.create_note(user, title="Experiment", body="x")
    created = api("post", f"/api/notes/{note.pk}/runnables", {"kind": kind.name, "params": {}})
    assert created.status_code == 201 and created.json()["params"] == kind.defaults()
    runnable_id = created.json()["id"]
    started = api("post", f"/api/runnables/{runnable_id}/runs", {})
    assert started.status_code == 201
    run = started.json()
    assert run["status"] == "queued" and run["params"] == kind.defaults()
    assert api("get", f"/api/runs/{run['id']}").json()["status"] == "queued"
    cancelled = api("post", f"/api/runs/{run['id']}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    assert [r["id"] for r in api("get", "/api/runs/").json()] == [run["id"]]


def test_bad_params_and_unknown_kinds_are_422(api, user, kind):
    note = Note.objects.create_note(user, title="Experiment", body="x")
    bad = api("post", f"/api/notes/{note.pk}/runnables", {"kind": kind.name, "params": {"nonsense": 1}})
    assert bad.status_code == 422 and "unknown parameter 'nonsense'" in bad.json()["detail"]
    assert api("post", f"/api/notes/{note.pk}/runnables", {"kind": "nope"}).status_code == 422
    assert not Runnable.objects.exists()


def test_other_users_runnables_and_runs_are_404(api, other_user, kind):
    note = Note.objects.create_note(other_user, title="Theirs", body="x")
    runnable = Runnable.objects.create(note=note, kind=kind.name, params=kind.defaults())
    run = Run.objects.create(runnable=runnable, params=kind.defaults())
    RunArtifact.objects.create(run=run, name="out.json", path="nowhere.json", content_type="application/json")
    for method, path in [
        ("post", f"/api/notes/{note.pk}/runnables"), ("get", f"/api/runnables/{runnable.pk}"),
        ("post", f"/api/runnables/{runnable.pk}/runs"), ("get", f"/api/runs/{run.pk}"),
        ("post", f"/api/runs/{run.pk}/cancel"), ("get", f"/api/runs/{run.pk}/artifacts/out.json"),
    ]:
        assert api(method, path, {"kind": kind.name} if method == "post" else None).status_code == 404, path
    assert Run.objects.get(pk=run.pk).status == "queued"


def test_run_artifacts_are_listed_and_downloaded(api, user, kind, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    note = Note.objects.create_note(user, title="Experiment", body="x")
    runnable = Runnable.objects.create(note=note, kind=kind.name, params=kind.defaults())
    run = Run.objects.create(runnable=runnable, params=kind.defaults())
    path = default_storage.save("runs/metrics.json", ContentFile(b'{"fid": 9.8}'))
    RunArtifact.objects.create(run=run, name="metrics.json", path=path, content_type="application/json", size=12)
    listed = api("get", f"/api/runs/{run.pk}").json()["artifacts"]
    assert [(a["name"], a["size"]) for a in listed] == [("metrics.json", 12)]
    response = api("get", listed[0]["download"])
    assert response.status_code == 200 and response.content == b'{"fid": 9.8}'
    assert response["Content-Disposition"] == 'attachment; filename="metrics.json"'
    assert api("get", f"/api/runs/{run.pk}/artifacts/missing.json").status_code == 404


def test_a_queued_run_says_what_it_waits_for_until_a_worker_that_can_run_it_is_live(api, user, kind):
    note = Note.objects.create_note(user, title="Experiment", body="x")
    runnable_id = api("post", f"/api/notes/{note.pk}/runnables", {"kind": kind.name, "params": {}}).json()["id"]
    run = api("post", f"/api/runnables/{runnable_id}/runs", {}).json()
    assert run["waiting_for"].startswith(f"waiting for a worker that can run {kind.name}")
    queue = Run.objects.get(pk=run["id"]).queue
    beat = Heartbeat("gpu0@lab", ["gpu", queue], kinds={kind.name: {}})
    redis_client().set(beat.key, beat.payload, ex=60)
    try:
        live = api("get", f"/api/runs/{run['id']}").json()
        assert live["waiting_for"] == "" and live["device_name"] == "" and live["peak_memory_bytes"] is None
    finally:
        redis_client().delete(beat.key)
