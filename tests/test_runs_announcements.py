"""Workers announce what they can run (kinds, devices, models); the web app offers kinds and
warns from those announcements, never from its own environment, and a run goes only to a
worker that can run it."""

import time

import pytest
from django.urls import reverse

from lablog.redis_clients import redis_client
from notes.models import Note
from workers.jobs import get_kind
from workers.liveness import Heartbeat, alive_workers
from workers.models import Run, Runnable

H200 = [{"type": "cuda", "name": "NVIDIA H200", "memory_bytes": 141 * 10**9}]


@pytest.fixture
def announce(db):
    """Write a worker's heartbeat as a worker does (same class, same payload); removed afterwards."""
    keys = []

    def write(hostname, kinds, queues=None, devices=H200):
        queues = queues if queues is not None else ["gpu", *(f"gpu.{name}" for name in kinds)]
        beat = Heartbeat(hostname, queues, devices=devices, kinds=kinds)
        redis_client().set(beat.key, beat.payload, ex=60)
        keys.append(beat.key)

    yield write
    if keys:
        redis_client().delete(*keys)


@pytest.fixture
def note(user):
    return Note.objects.create_note(user, title="Guidance experiments")


def panel(client, note):
    return client.get(reverse("workers:note_runnables", args=[note.pk])).content.decode()


def test_a_real_worker_announces_its_kinds_devices_and_kind_queues(celery_worker, tmp_path, user):
    worker = celery_worker(queues=["gpu"], extra_env={"RUNS_CACHE_DIR": str(tmp_path), "CUDA_VISIBLE_DEVICES": ""})
    me = next(w for w in alive_workers() if w["hostname"] == worker.hostname)
    assert "cfg_diffusion" in me["kinds"]
    assert "gpu.cfg_diffusion" in me["queues"] and "gpu" in me["queues"]
    assert me["devices"][0]["type"] == "cpu" and me["devices"][0]["name"] and me["devices"][0]["memory_bytes"] > 0
    text = get_kind("cfg_text")
    assert me["kinds"]["cfg_text"]["models"] and f"gpu.cfg_text.{text.model_param.default}" in me["queues"]
    # A run for a model this worker does not have is never sent to it: it stays queued.
    note = Note.objects.create_note(user, title="Models")
    run = Runnable.objects.create(
        note=note, kind="cfg_text", params={**text.defaults(), text.model_param.name: "not-on-any-worker"}
    ).start_run()
    time.sleep(3)
    run.refresh_from_db()
    assert run.status == Run.QUEUED and run.dispatched is not None and run.started is None
    assert f"[{run.pk}]" not in worker.log() and "run_job" not in worker.log().split("ready.")[-1]
    # A worker on the search queues runs no job kind and says so.
    search = celery_worker(queues=["default"])
    other = next(w for w in alive_workers() if w["hostname"] == search.hostname)
    assert other["kinds"] == {} and not any(q.startswith("gpu") for q in other["queues"])


def test_runs_are_sent_to_the_queue_of_their_kind_and_model():
    assert get_kind("cfg_diffusion").route({}) == "gpu.cfg_diffusion"
    kind = get_kind("cfg_text")
    model = kind.model_param
    assert model is not None, "cfg_text picks its model from what workers announce"
    assert kind.route({model.name: "gpt2-local"}) == "gpu.cfg_text.gpt2-local"
    assert kind.route({}) == f"gpu.cfg_text.{model.default}"


def test_warning_shows_whenever_no_live_worker_can_run_the_kind(auth_client, note, announce):
    Runnable.objects.create(note=note, kind="cfg_diffusion", params=get_kind("cfg_diffusion").defaults())
    # No run at all, no worker: the runnable says so before anyone clicks Run.
    assert "No live worker can run this now: a run will be waiting for a worker that can run cfg_diffusion" in panel(
        auth_client, note
    )
    # A worker on the `gpu` queue that does not announce the kind cannot run it: still warned.
    announce("cpu@elsewhere", {"cfg_text": {"models": ["notes-gpt"]}}, queues=["gpu", "gpu.cfg_text.notes-gpt"])
    assert "waiting for a worker that can run cfg_diffusion" in panel(auth_client, note)
    announce("gpu0@lab", {"cfg_diffusion": {}})
    html = panel(auth_client, note)
    assert "waiting for a worker" not in html
    assert "Runs on gpu0@lab (NVIDIA H200, 141 GB)" in html


def test_queued_run_names_the_kind_and_model_it_waits_for(auth_client, note, announce):
    kind = get_kind("cfg_text")
    runnable = Runnable.objects.create(note=note, kind="cfg_text", params={**kind.defaults(), kind.model_param.name: "gpt2-local"})
    runnable.start_run()
    announce("gpu0@lab", {"cfg_text": {"models": [kind.model_param.default]}},
             queues=["gpu", f"gpu.cfg_text.{kind.model_param.default}"])
    assert "1 run waiting for a worker that can run cfg_text with model gpt2-local" in panel(auth_client, note)
    assert Run.objects.get().status == Run.QUEUED


def test_kind_picker_offers_kinds_live_workers_announce_and_shows_which(auth_client, note, announce):
    url = reverse("workers:runnable_add", args=[note.pk])
    html = auth_client.get(url).content.decode()
    assert 'data-kind="cfg_diffusion">' in html and "no live worker can run cfg_diffusion now" in html
    assert 'href="/runs/notes/' not in html.split("Pick a job kind")[1].split("cfg_diffusion")[0]
    announce("gpu0@lab", {"cfg_diffusion": {}})
    html = auth_client.get(url).content.decode()
    assert f'href="{url}?kind=cfg_diffusion"' in html
    assert "runs on gpu0@lab (NVIDIA H200, 141 GB)" in html


def test_model_parameter_picks_from_announced_models_never_a_path(auth_client, note, announce):
    kind = get_kind("cfg_text")
    model = kind.model_param
    announce("gpu0@lab", {"cfg_text": {"models": [model.default, "gpt2-local"]}},
             queues=["gpu", f"gpu.cfg_text.{model.default}", "gpu.cfg_text.gpt2-local"])
    url = reverse("workers:runnable_add", args=[note.pk]) + "?kind=cfg_text"
    html = auth_client.get(url).content.decode()
    assert f'<select name="{model.name}"' in html and '<option value="gpt2-local">gpt2-local</option>' in html
    data = {p.name: p.format(p.default) for p in kind.params}
    for bad in ["/etc", "../models/x", "/home/ada/secret-model"]:
        response = auth_client.post(url, {**data, model.name: bad, "kind": "cfg_text", "save": "1"})
        assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not Runnable.objects.exists()
    auth_client.post(url, {**data, model.name: "gpt2-local", "kind": "cfg_text", "save": "1"})
    assert Runnable.objects.get().params[model.name] == "gpt2-local"
