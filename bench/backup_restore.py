"""Backup and restore timing on the imported corpus: every file of ../shared/data imported
and indexed (vectors in the database), plus runs with artifacts in storage; then
`manage.py backup` while a writer keeps saving notes, and `manage.py restore` into a fresh
instance (its own var dir and database), checked against the manifest's counts.

    .venv/bin/python bench/backup_restore.py [--artifacts 20] [--json]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/backup_restore.py
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time

from _common import ROOT, Lab, load_json, wait_indexed

DATA = ROOT.parent / "shared" / "data"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--artifacts", type=int, default=20, help="artifacts of 256 KiB kept in storage")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with Lab("backup") as lab:
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.db import connection

        from exchange.importers import import_path
        from notes.models import Note
        from workers.models import Run, RunArtifact, Runnable

        user = get_user_model().objects.create_user("bench")
        for name in ("daily-papers-1.txt", "daily-papers-2.txt", "research-log.txt", "blog-feed.txt"):
            import_path(user, DATA / name)
        for entry in load_json(DATA / "notes-corpus.json"):
            Note.objects.create_note(user, title=entry["title"], body=entry["body"])
        lab.worker()
        index_seconds = wait_indexed(user, quiet=True)
        note = Note.objects.for_user(user).first()
        run = Run.objects.create(runnable=Runnable.objects.create(note=note, kind="cfg_diffusion", params={}),
                                 status=Run.SUCCEEDED)
        os.environ["RUNS_ARTIFACT_DB_MAX_BYTES"] = "0"
        from django.conf import settings

        settings.RUNS_ARTIFACT_DB_MAX_BYTES = 0  # every artifact to storage, as large ones are
        for n in range(args.artifacts):
            RunArtifact.store(run, f"grid{n}.png", os.urandom(256 * 1024), "image/png")

        stop, saved = threading.Event(), [0]

        def writer():
            while not stop.is_set():
                Note.objects.create_note(user, title=f"During backup {saved[0]}", body="x" * 2000)
                saved[0] += 1
            connection.close()

        thread = threading.Thread(target=writer)
        thread.start()
        target = lab.var / "backup"
        started = time.monotonic()
        call_command("backup", str(target), stdout=open(os.devnull, "w"))
        backup_seconds = time.monotonic() - started
        stop.set()
        thread.join()
        manifest = json.loads((target / "manifest.json").read_text())

        fresh = lab.var / "fresh"
        fresh.mkdir()
        env = dict(lab.env, LABLOG_VAR_DIR=str(fresh), MEDIA_ROOT=str(fresh / "media"))
        if connection.vendor == "postgresql":
            name = f"{connection.settings_dict['NAME']}_fresh"
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
            env["DATABASE_URL"] = lab.env["DATABASE_URL"].rsplit("/", 1)[0] + "/" + name
        else:
            env["DATABASE_URL"] = f"sqlite:///{fresh / 'lablog.sqlite3'}"
        started = time.monotonic()
        result = subprocess.run([sys.executable, "manage.py", "restore", str(target)], cwd=ROOT, env=env,
                                capture_output=True, text=True)
        restore_seconds = time.monotonic() - started
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        figures = {
            "database": connection.vendor, "notes": manifest["counts"]["notes"],
            "papers": manifest["counts"]["papers"], "artifacts": manifest["counts"]["artifacts"],
            "writer_saves_during_backup": saved[0], "index_seconds": round(index_seconds, 1),
            "backup_bytes": sum(f["size"] for f in manifest["files"]),
            "database_bytes": manifest["files"][0]["size"],
            "backup_seconds": round(backup_seconds, 2), "restore_seconds": round(restore_seconds, 2),
            "restore_ok": result.returncode == 0, "restore_output": (result.stdout + result.stderr).strip()[-300:],
        }
    print(json.dumps(figures) if args.json else "\n".join(f"{k:>28}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    sys.exit(main())
