"""Runnable parameters: forms generated from a kind's schema, validated on the server."""

import pytest
from django.urls import reverse

from notes.models import Note
from workers.jobs import get_kind, kinds
from workers.models import Run, Runnable

pytestmark = pytest.mark.django_db


@pytest.fixture
def note(user):
    return Note.objects.create_note(user, title="Guidance", body="CFG notes")


def test_registry_discovers_every_job_module():
    assert {"cfg_diffusion", "cfg_text"} <= set(kinds())
    kind = get_kind("cfg_diffusion")
    assert kind.queue == "gpu"
    assert kind.param("guidance_scales").default == [0.0, 1.0, 2.0, 4.0, 8.0]


def test_add_form_is_generated_from_the_schema_with_defaults_and_help(auth_client, note):
    response = auth_client.get(reverse("workers:runnable_add", args=[note.pk]) + "?kind=cfg_diffusion")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="guidance_scales"' in html and 'value="0, 1, 2, 4, 8"' in html
    assert 'name="diffusion_steps"' in html and 'min="10"' in html and 'max="1000"' in html
    assert "Noise levels of the diffusion process" in html


def test_invalid_params_show_form_errors_and_dispatch_nothing(auth_client, note, django_capture_on_commit_callbacks):
    url = reverse("workers:runnable_add", args=[note.pk])
    data = {
        "kind": "cfg_diffusion", "diffusion_steps": "5", "training_iterations": "lots",
        "guidance_scales": "0, 1, x", "samples_per_class": "2", "seed": "0", "run": "1",
    }
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = auth_client.post(url, data)
    html = response.content.decode()
    assert response.status_code == 200
    assert "must be at least 10" in html
    assert "is not a whole number" in html
    assert "&#x27;x&#x27; is not a number" in html
    assert not Runnable.objects.exists() and not Run.objects.exists()
    assert callbacks == []


def test_too_long_list_and_cost_cap_are_refused(auth_client, note):
    url = reverse("workers:runnable_add", args=[note.pk])
    base = {"kind": "cfg_diffusion", "diffusion_steps": "100", "training_iterations": "3000",
            "guidance_scales": "0,1", "samples_per_class": "10", "seed": "0"}
    too_many = auth_client.post(url, {**base, "guidance_scales": ",".join(str(i) for i in range(13))})
    assert "give at most 12 values" in too_many.content.decode()
    too_costly = auth_client.post(url, {**base, "training_iterations": "40000"})
    assert "too expensive" in too_costly.content.decode()
    assert not Runnable.objects.exists()


def test_valid_form_saves_the_runnable_and_queues_a_run_once_committed(auth_client, note, django_capture_on_commit_callbacks):
    url = reverse("workers:runnable_add", args=[note.pk])
    data = {"kind": "cfg_diffusion", "diffusion_steps": "20", "training_iterations": "100",
            "guidance_scales": "0, 1.5", "samples_per_class": "2", "seed": "3", "run": "1"}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = auth_client.post(url, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Retarget"] == "#runnables"
    runnable = Runnable.objects.get()
    assert runnable.params == {"diffusion_steps": 20, "training_iterations": 100, "guidance_scales": [0.0, 1.5],
                               "samples_per_class": 2, "seed": 3}
    run = Run.objects.get()
    assert run.status == Run.QUEUED and run.params == runnable.params
    assert len(callbacks) == 1
    assert f'id="run-{run.pk}"' in response.content.decode()


def test_edit_from_a_run_prefills_its_params_and_later_runs_use_the_edit(auth_client, note):
    runnable = Runnable.objects.create(note=note, kind="cfg_diffusion", params=get_kind("cfg_diffusion").defaults())
    old = runnable.start_run({**runnable.params, "seed": 7})
    page = auth_client.get(reverse("workers:runnable", args=[runnable.pk]) + f"?from_run={old.pk}")
    assert 'name="seed" value="7"' in page.content.decode()
    data = {"diffusion_steps": "30", "training_iterations": "200", "guidance_scales": "0,2",
            "samples_per_class": "3", "seed": "7", "run": "1"}
    auth_client.post(reverse("workers:runnable", args=[runnable.pk]), data)
    runnable.refresh_from_db()
    latest = runnable.runs.first()
    assert latest.pk != old.pk and latest.params["guidance_scales"] == [0.0, 2.0]
    old.refresh_from_db()
    assert old.params["guidance_scales"] == [0.0, 1.0, 2.0, 4.0, 8.0]  # a run keeps what it ran with


def test_kind_no_live_worker_can_run_is_listed_as_such_and_unknown_kinds_are_404(auth_client, note):
    picker = auth_client.get(reverse("workers:runnable_add", args=[note.pk])).content.decode()
    assert "no live worker can run cfg_text now" in picker  # the workers say what runs, not the web's environment
    response = auth_client.get(reverse("workers:runnable_add", args=[note.pk]) + "?kind=no_such_kind")
    assert response.status_code == 404


def test_listing_kinds_and_building_forms_imports_no_heavy_library():
    """The web process imports every kind to list it; torch, transformers and matplotlib load only in a job."""
    import subprocess
    import sys

    code = (
        "import django, sys; django.setup()\n"
        "from workers.jobs import kinds\nfrom workers.forms import ParamsForm\n"
        "[ParamsForm(k).as_p() for k in kinds().values()]\n"
        "import workers.views.runnables, workers.views.runs, workers.views.artifacts, workers.views.compare\n"
        "print(sorted(m for m in ('torch', 'transformers', 'matplotlib', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
