"""The Lablog JSON export is a backup to trust: runnables, runs (with every artifact's
bytes) and dismissed suggestions go out and come back; into another account `run:N/…`
references follow the runs' new ids; into the same account nothing is created twice."""

import base64
import hashlib
import json
import re

import pytest
from django.urls import reverse

from exchange.exporters import export_data, export_json
from exchange.importers import import_bytes
from notes.models import Note, Revision, Snippet
from search.models import DismissedRelated
from tests.test_export_roundtrip import make_library
from workers.models import Run, RunArtifact, Runnable

# A real 1×1 PNG, so the artifact is served inline as an image.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def make_runs(user) -> tuple[Note, Run]:
    note = Note.objects.create_note(user, title="CFG sweep", body="Sweep.", tags=["runs"])
    runnable = Runnable.objects.create(note=note, kind="cfg_diffusion", params={"guidance_scales": [0, 1, 4]})
    done = Run.objects.create(
        runnable=runnable, params={"guidance_scales": [0, 1, 4]}, status=Run.SUCCEEDED, progress=100.0,
        log="step 1\nstep 2\n", metrics={"accuracy": {"0": 0.12, "4": 1.0}}, device="cuda:0",
        device_name="NVIDIA H200", peak_memory_bytes=123456, worker_host="gpu1",
    )
    RunArtifact.store(done, "guidance_sweep.png", PNG, "image/png")
    RunArtifact.store(done, "metrics.json", b'{"accuracy": 1.0}', "application/json")
    Run.objects.create(runnable=runnable, params={}, status=Run.FAILED, error="out of memory")
    Note.objects.filter(pk=note.pk).update(
        body=f"Sweep.\n\n![guidance sweep](run:{done.pk}/guidance_sweep.png)\n\n[the run](run:{done.pk})"
    )
    other = Note.objects.for_user(user).get(title="KV cache")
    DismissedRelated.objects.create(user=user, note=note, other=other)
    return Note.objects.get(pk=note.pk), done


def portable(user) -> dict:
    """The export without what differs by account: ids, keys made of ids, the origin."""
    data = export_data(user)
    for name in ("exported", "origin"):
        data.pop(name)
    for note in data["notes"]:
        for runnable in note["runnables"]:
            runnable.pop("key")
            for run in runnable["runs"]:
                for name in ("key", "id"):
                    run.pop(name)
        note["body"] = re.sub(r"run:\d+", "run:#", note["body"])
    return data


def counts(user) -> dict:
    return {
        "notes": Note.objects.for_user(user).count(),
        "revisions": Revision.objects.filter(note__user=user).count(),
        "snippets": Snippet.objects.filter(note__user=user).count(),
        "runnables": Runnable.objects.for_user(user).count(),
        "runs": Run.objects.for_user(user).count(),
        "artifacts": RunArtifact.objects.filter(run__runnable__note__user=user).count(),
        "dismissed": DismissedRelated.objects.filter(user=user).count(),
    }


@pytest.fixture
def library(user):
    make_library(user)
    return make_runs(user)


def test_export_carries_runs_their_artifact_bytes_and_dismissed_suggestions(user, library):
    note, run = library
    data = json.loads(export_json(user))
    entry = next(n for n in data["notes"] if n["title"] == "CFG sweep")
    exported_run = entry["runnables"][0]["runs"][0]
    assert exported_run["metrics"] == {"accuracy": {"0": 0.12, "4": 1.0}}
    assert (exported_run["device_name"], exported_run["log"]) == ("NVIDIA H200", "step 1\nstep 2\n")
    png = next(a for a in exported_run["artifacts"] if a["name"] == "guidance_sweep.png")
    assert base64.b64decode(png["data"]) == PNG and png["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert entry["dismissed"] == [f"lablog:note:{Note.objects.get(user=user, title='KV cache').pk}"]


def test_import_into_another_account_recreates_everything_with_working_run_links(
    user, other_user, library, other_client
):
    note, run = library
    report = import_bytes(other_user, "lablog.json", export_json(user)).as_dict()
    assert report["failed"] == []
    assert report["created"] == {"notes": 3, "papers": 2, "snippets": 3, "runs": 2, "files": 0}
    assert counts(other_user) == counts(user)
    assert portable(other_user) == portable(user)
    copy = Note.objects.get(user=other_user, title="CFG sweep")
    new_run = Run.objects.for_user(other_user).get(status=Run.SUCCEEDED)
    assert new_run.pk != run.pk
    assert f"run:{new_run.pk}/guidance_sweep.png" in copy.body and f"run:{run.pk}" not in copy.body
    # The note page shows the image from the new run, and it is served byte for byte.
    page = other_client.get(reverse("notes:note", args=[copy.pk])).content.decode()
    assert f'src="/runs/{new_run.pk}/artifacts/guidance_sweep.png"' in page
    artifact = other_client.get(f"/runs/{new_run.pk}/artifacts/guidance_sweep.png")
    assert artifact.status_code == 200 and b"".join(artifact.streaming_content if artifact.streaming else [artifact.content]) == PNG
    assert RunArtifact.objects.get(run=new_run, name="metrics.json").read_bytes() == b'{"accuracy": 1.0}'
    assert (new_run.device, new_run.peak_memory_bytes, new_run.worker_host) == ("cuda:0", 123456, "gpu1")
    assert DismissedRelated.objects.filter(user=other_user, note=copy, other__title="KV cache").exists()


def test_importing_into_another_account_twice_creates_nothing_the_second_time(user, other_user, library):
    data = export_json(user)
    import_bytes(other_user, "lablog.json", data)
    before = counts(other_user)
    again = import_bytes(other_user, "lablog.json", data).as_dict()
    assert again["failed"] == []
    assert again["created"] == {"notes": 0, "papers": 0, "snippets": 0, "runs": 0, "files": 0}
    assert counts(other_user) == before
    assert not Note.objects.for_user(other_user).filter(body__contains=f"run:{library[1].pk}/").exists()


def test_import_into_the_same_account_creates_nothing(user, library):
    before = counts(user)
    snapshot = export_data(user)
    report = import_bytes(user, "lablog.json", export_json(user)).as_dict()
    assert report["failed"] == []
    assert report["created"] == {"notes": 0, "papers": 0, "snippets": 0, "runs": 0, "files": 0}
    assert counts(user) == before
    after = export_data(user)
    for data in (snapshot, after):
        data.pop("exported")
    assert after == snapshot


def test_same_account_import_keeps_a_note_edited_since_the_export(user, library):
    note, _ = library
    data = export_json(user)
    note.apply_edit(base_version=note.version, title=note.title, body="Edited after the export.")
    report = import_bytes(user, "lablog.json", data).as_dict()
    assert Note.objects.get(pk=note.pk).body == "Edited after the export."
    assert any("newer version" in n["message"] for n in report["notices"])
    assert report["created"]["notes"] == 0


def test_a_run_exported_while_running_comes_in_failed_not_queued(user, other_user, library):
    note, run = library
    Run.objects.filter(pk=run.pk).update(status=Run.RUNNING)
    import_bytes(other_user, "lablog.json", export_json(user))
    copy = Run.objects.for_user(other_user).get(log="step 1\nstep 2\n")
    assert copy.status == Run.FAILED and copy.error.startswith("interrupted: it was running when exported")


def test_a_damaged_artifact_fails_its_note_alone(user, other_user, library):
    data = json.loads(export_json(user))
    entry = next(n for n in data["notes"] if n["title"] == "CFG sweep")
    entry["runnables"][0]["runs"][0]["artifacts"][0]["data"] = base64.b64encode(b"not the png").decode()
    report = import_bytes(other_user, "lablog.json", json.dumps(data).encode()).as_dict()
    assert [f["item"] for f in report["failed"]] == ["note CFG sweep"]
    assert "damaged" in report["failed"][0]["reason"]
    assert Note.objects.for_user(other_user).count() == 2
