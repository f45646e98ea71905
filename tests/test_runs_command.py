"""manage.py runjob: the same runnable and queue as the web app, from the shell."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from notes.models import Note
from workers.models import Run, Runnable


def runjob(*args) -> str:
    out = io.StringIO()
    call_command("runjob", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.worker
def test_runjob_wait_json_ends_with_the_run_summary(user, celery_worker, tmp_path):
    celery_worker(queues=["gpu"], extra_env={"RUNS_CACHE_DIR": str(tmp_path)})
    out = runjob(
        "cfg_diffusion", "--new-note", "From the shell", "--user", user.username,
        "--param", "guidance_scales=0,2", "--param", "training_iterations=80", "--param", "diffusion_steps=10",
        "--param", "samples_per_class=2", "--wait", "--json", "--timeout", "120",
    )
    summary = json.loads(out.strip().splitlines()[-1])
    run = Run.objects.get(pk=summary["run"])
    assert summary["status"] == "succeeded" and summary["device"] == "cpu"
    assert set(summary["metrics"]["accuracy"]) == {"0", "2"}
    assert "grid_w2.png" in summary["artifacts"] and "guidance_sweep.png" in summary["artifacts"]
    assert run.runnable.note.title == "From the shell" and run.runnable.note.user == user
    assert run.params["guidance_scales"] == [0.0, 2.0]


@pytest.mark.django_db
def test_runjob_refuses_bad_params_and_other_users_notes(user, other_user):
    theirs = Note.objects.create_note(other_user, title="Not yours")
    with pytest.raises(CommandError, match="diffusion_steps: must be at least 10"):
        runjob("cfg_diffusion", "--new-note", "x", "--user", user.username, "--param", "diffusion_steps=2")
    with pytest.raises(CommandError, match="unknown parameter"):
        runjob("cfg_diffusion", "--new-note", "x", "--user", user.username, "--param", "steps=2")
    with pytest.raises(CommandError, match="has no note"):
        runjob("cfg_diffusion", "--note", str(theirs.pk), "--user", user.username)
    assert not Runnable.objects.exists() and not Note.objects.filter(title="x").exists()


@pytest.mark.django_db
def test_runjob_without_wait_queues_on_an_existing_note(user, django_capture_on_commit_callbacks):
    note = Note.objects.create_note(user, title="Existing")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        out = runjob("cfg_diffusion", "--note", str(note.pk), "--user", user.username, "--json")
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["status"] == "queued" and summary["artifacts"] == []
    assert Run.objects.get(pk=summary["run"]).runnable.note == note
    assert len(callbacks) == 1
