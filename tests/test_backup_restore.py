"""`manage.py backup` while a writer keeps saving notes, then `manage.py restore` on a
fresh instance (its own database and storage, in another process): everything in the
snapshot is there, artifacts byte for byte. A damaged or unfinished backup is refused
before anything is touched."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from exchange.backup import MANIFEST, BackupError, verify
from notes.models import Note
from workers.models import Run, RunArtifact, Runnable

ROOT = Path(__file__).resolve().parent.parent
BIG = bytes(range(256)) * 64  # 16 KiB: kept in storage, not in the row (the limit is lowered below)


@pytest.fixture
def library(user, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.RUNS_ARTIFACT_DB_MAX_BYTES = 1024
    for n in range(20):
        Note.objects.create_note(user, title=f"Before {n}", body=f"Text {n}", tags=["kept"])
    note = Note.objects.get(title="Before 0")
    note.apply_edit(base_version=1, title="Before 0", body="Edited")
    run = Run.objects.create(runnable=Runnable.objects.create(note=note, kind="cfg_diffusion", params={}),
                             status=Run.SUCCEEDED, metrics={"accuracy": 1.0})
    RunArtifact.store(run, "grid.bin", BIG, "application/octet-stream")
    RunArtifact.store(run, "small.json", b"{}", "application/json")
    assert RunArtifact.objects.get(name="grid.bin").path  # in storage
    return user


class Writer(threading.Thread):
    """Saves notes as fast as it can until stopped (another connection, like the web app)."""

    def __init__(self, user):
        super().__init__(daemon=True)
        self.user, self.stop, self.saved, self.error = user, threading.Event(), 0, None

    def run(self):
        try:
            while not self.stop.is_set():
                Note.objects.create_note(self.user, title=f"During {self.saved}", body="x" * 2000)
                self.saved += 1
        except Exception as exc:  # reported by the test
            self.error = exc
        finally:
            connection.close()


@pytest.fixture
def fresh_instance(tmp_path):
    """Environment for a second, empty Lablog: its own var dir, database and media."""
    var = tmp_path / "fresh"
    var.mkdir()
    env = dict(os.environ, LABLOG_VAR_DIR=str(var), MEDIA_ROOT=str(var / "media"), DJANGO_SETTINGS_MODULE="lablog.settings")
    env.pop("TEST_DATABASE_NAME", None)
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        name = f"{db['NAME']}_restore"
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cursor.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"
        yield env
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        env["DATABASE_URL"] = f"sqlite:///{var / 'lablog.sqlite3'}"
        yield env


def manage(env, *args):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


PROBE = """
import json
from notes.models import Note
from workers.models import RunArtifact
from exchange.backup import counts
print(json.dumps({"counts": counts(), "titles": sorted(Note.objects.values_list("title", flat=True)),
                  "edited": Note.objects.get(title="Before 0").body,
                  "big": RunArtifact.objects.get(name="grid.bin").read_bytes().hex()}))
"""


@pytest.mark.django_db(transaction=True)
def test_backup_while_writing_then_restore_on_a_fresh_instance_has_everything(library, tmp_path, fresh_instance):
    writer = Writer(library)
    writer.start()
    try:
        while writer.saved < 5 and writer.is_alive():
            pass
        call_command("backup", str(tmp_path / "backup"))
        at_backup = writer.saved
    finally:
        writer.stop.set()
        writer.join()
    assert writer.error is None and writer.saved > at_backup >= 5
    manifest = verify(tmp_path / "backup")
    snapshot = manifest["counts"]
    # One instant: the writer's notes up to some point, each whole.
    assert 20 + 5 <= snapshot["notes"] <= 20 + writer.saved
    result = manage(fresh_instance, "restore", str(tmp_path / "backup"))
    assert result.returncode == 0, result.stdout + result.stderr
    probe = manage(fresh_instance, "shell", "-c", PROBE)
    assert probe.returncode == 0, probe.stderr
    restored = json.loads(probe.stdout.strip().splitlines()[-1])
    assert restored["counts"] == snapshot
    titles = restored["titles"]
    assert all(f"Before {n}" in titles for n in range(20))
    during = sorted(int(t.split()[1]) for t in titles if t.startswith("During"))
    assert during == list(range(len(during)))  # a prefix of the writer's saves, no gaps
    assert restored["edited"] == "Edited" and bytes.fromhex(restored["big"]) == BIG
    # Restoring again over data needs --replace.
    again = manage(fresh_instance, "restore", str(tmp_path / "backup"))
    assert again.returncode != 0 and "already has accounts" in again.stderr


@pytest.mark.django_db(transaction=True)
def test_a_damaged_or_unfinished_backup_is_refused_and_nothing_is_touched(library, tmp_path, fresh_instance):
    call_command("backup", str(tmp_path / "backup"))
    artifact = next((tmp_path / "backup" / "media").rglob("grid*"))
    data = bytearray(artifact.read_bytes())
    data[100] ^= 0xFF
    artifact.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="damaged"):
        verify(tmp_path / "backup")
    result = manage(fresh_instance, "restore", str(tmp_path / "backup"))
    assert result.returncode != 0 and "is damaged (its SHA-256 does not match)" in result.stderr
    assert "nothing was restored" in result.stderr
    (tmp_path / "backup" / MANIFEST).unlink()
    result = manage(fresh_instance, "restore", str(tmp_path / "backup"))
    assert result.returncode != 0 and "not a finished Lablog backup" in result.stderr
    # The fresh instance is as empty as it was: its database was never written.
    migrate = manage(fresh_instance, "migrate", "--noinput")
    assert migrate.returncode == 0
    probe = manage(fresh_instance, "shell", "-c", "from exchange.backup import counts; print(counts()['notes'])")
    assert probe.stdout.strip().splitlines()[-1] == "0"


@pytest.mark.django_db(transaction=True)
def test_backup_refuses_a_folder_that_is_not_empty(library, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(CommandError, match="not empty"):
        call_command("backup", str(tmp_path / "full"))
