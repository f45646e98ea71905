"""Whole-instance backup and restore (`manage.py backup DIR`, `manage.py restore DIR`).

A backup is a folder: the database as one consistent snapshot taken while the app runs
and writes, every run artifact kept in storage (not in its database row), and
`manifest.json` with each file's size and SHA-256, written last. No manifest means the
backup never finished; a file whose checksum differs means it was damaged: restore refuses
both, before touching anything.

- SQLite: SQLite's online backup API copies the database page by page inside one read
  transaction, so the copy is one instant even while writers commit (a file copy of a
  WAL database is not: the newest commits are in the -wal file).
- PostgreSQL: `pg_dump` (custom format) of a snapshot exported by a REPEATABLE READ
  transaction, the same snapshot the artifact list is read from. Restored with `pg_restore`.

The search index is derived (vectors are in the database): restore clears its directory
and it is rebuilt. The secret key is not in the backup (sessions simply start again).
"""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone

FORMAT = "lablog-backup"
VERSION = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
MEDIA_DIR = "media"
_CHUNK = 1 << 20
# What the manifest counts, to say what a backup holds (and check a restore brought it all).
COUNTED = {
    "users": "auth_user", "notes": "notes_note", "revisions": "notes_revision", "papers": "notes_paper",
    "snippets": "notes_snippet", "note_files": "notes_attachment", "runs": "workers_run",
    "artifacts": "workers_runartifact",
}


class BackupError(Exception):
    """A backup that cannot be made, or a folder that is not a whole, undamaged backup."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _describe(root: Path, path: Path) -> dict:
    return {"path": path.relative_to(root).as_posix(), "size": path.stat().st_size, "sha256": _sha256(path)}


# --- backup ---------------------------------------------------------------------------------

def _sqlite_snapshot(target: Path) -> tuple[Path, list[str], dict]:
    """The database through SQLite's backup API; artifact paths and counts read from the copy."""
    source = sqlite3.connect(str(connection.settings_dict["NAME"]), timeout=60)
    copy_path = target / SQLITE_FILE
    copy = sqlite3.connect(str(copy_path))
    try:
        with copy:
            source.backup(copy)  # all pages in one step: one read transaction, one instant
        paths = [row[0] for row in copy.execute("SELECT path FROM workers_runartifact WHERE path != ''")]
        counts = {name: copy.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for name, table in COUNTED.items()}
    finally:
        copy.close()
        source.close()
    return copy_path, paths, counts


def _pg_env() -> dict:
    db = connection.settings_dict
    env = dict(os.environ)
    for var, key in (("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGUSER", "USER"), ("PGPASSWORD", "PASSWORD"),
                     ("PGDATABASE", "NAME")):
        if db.get(key):
            env[var] = str(db[key])
    return env


def _pg_snapshot(target: Path) -> tuple[Path, list[str], dict]:
    """pg_dump of a snapshot this transaction exports, and the artifact paths of that snapshot."""
    dump_path = target / PG_FILE
    with connection.cursor() as cursor:
        cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            result = subprocess.run(
                ["pg_dump", "--format=custom", "--no-owner", f"--snapshot={snapshot}", f"--file={dump_path}"],
                env=_pg_env(), capture_output=True, text=True,
            )
            if result.returncode:
                raise BackupError(f"pg_dump failed: {result.stderr.strip()[:500]}")
            cursor.execute("SELECT path FROM workers_runartifact WHERE path != ''")
            paths = [row[0] for row in cursor.fetchall()]
            counts = {}
            for name, table in COUNTED.items():
                cursor.execute(f"SELECT COUNT(*) FROM {table}")
                counts[name] = cursor.fetchone()[0]
        finally:
            cursor.execute("ROLLBACK")
    return dump_path, paths, counts


def backup(target: Path) -> dict:
    """Write a backup of the whole instance into `target` (a new or empty folder); the manifest."""
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty: back up into a new folder")
    target.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    vendor = connection.vendor
    if vendor == "sqlite":
        database, paths, counts = _sqlite_snapshot(target)
    elif vendor == "postgresql":
        database, paths, counts = _pg_snapshot(target)
    else:
        raise BackupError(f"backing up a {vendor} database is not supported")
    files, missing = [_describe(target, database)], []
    for name in paths:
        destination = target / MEDIA_DIR / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            with default_storage.open(name, "rb") as source, open(destination, "wb") as out:
                shutil.copyfileobj(source, out, _CHUNK)
        except FileNotFoundError:
            missing.append(name)  # deleted with its run after the snapshot: nothing to keep
            continue
        files.append(_describe(target, destination))
    manifest = {
        "format": FORMAT, "version": VERSION, "created": timezone.now().isoformat(),
        "database": {"vendor": vendor, "file": database.name, "migrations": _migrations()},
        "counts": counts, "files": files, "missing_artifacts": missing,
        "seconds": round(time.monotonic() - started, 2),
    }
    # Written last and atomically: a folder without it is a backup that did not finish.
    with tempfile.NamedTemporaryFile("w", dir=target, delete=False, suffix=".tmp") as fh:
        json.dump(manifest, fh, indent=1)
    os.replace(fh.name, target / MANIFEST)
    return manifest


def _migrations() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT app, MAX(name) FROM django_migrations GROUP BY app")
        return dict(cursor.fetchall())


# --- restore --------------------------------------------------------------------------------

def verify(source: Path) -> dict:
    """The manifest of a whole, undamaged backup; BackupError saying what is wrong otherwise."""
    source = Path(source)
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{source} has no {MANIFEST}: it is not a finished Lablog backup") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{MANIFEST} cannot be read ({exc}): the backup is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise BackupError(f"{MANIFEST} is not a Lablog backup manifest (format {FORMAT}, version {VERSION})")
    problems = []
    for entry in manifest.get("files", []):
        path = source / entry["path"]
        if not path.is_file():
            problems.append(f"{entry['path']} is missing")
        elif path.stat().st_size != entry["size"]:
            problems.append(f"{entry['path']} is {path.stat().st_size:,} bytes, not {entry['size']:,}")
        elif _sha256(path) != entry["sha256"]:
            problems.append(f"{entry['path']} is damaged (its SHA-256 does not match)")
    if problems:
        raise BackupError("the backup is damaged or incomplete, nothing was restored: " + "; ".join(problems[:10]))
    return manifest


def _has_data() -> bool:
    tables = connection.introspection.table_names()
    if "auth_user" not in tables:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM auth_user)")
        return bool(cursor.fetchone()[0])


@contextmanager
def _closed_connections():
    connections.close_all()
    yield
    connections.close_all()


def _restore_sqlite(path: Path) -> None:
    with _closed_connections():
        source = sqlite3.connect(str(path))
        target = sqlite3.connect(str(connection.settings_dict["NAME"]), timeout=60)
        try:
            with target:
                source.backup(target)
        finally:
            target.close()
            source.close()


def _restore_pg(path: Path) -> None:
    with _closed_connections():
        result = subprocess.run(
            ["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
             f"--dbname={connection.settings_dict['NAME']}", str(path)],
            env=_pg_env(), capture_output=True, text=True,
        )
    if result.returncode:
        raise BackupError(f"pg_restore failed: {result.stderr.strip()[:500]}")


def restore(source: Path, *, replace: bool = False) -> dict:
    """Restore a verified backup into this instance's database and storage; the manifest."""
    source = Path(source)
    manifest = verify(source)
    vendor = manifest["database"]["vendor"]
    if vendor != connection.vendor:
        raise BackupError(
            f"this is a {vendor} backup and this Lablog runs on {connection.vendor}: restore it into "
            f"{vendor}, then move with a Lablog JSON export per user"
        )
    if not replace and _has_data():
        raise BackupError("this Lablog already has accounts: restore into a fresh instance, or pass --replace")
    database = source / manifest["database"]["file"]
    (_restore_sqlite if vendor == "sqlite" else _restore_pg)(database)
    for entry in manifest["files"]:
        if not entry["path"].startswith(MEDIA_DIR + "/"):
            continue
        name = entry["path"][len(MEDIA_DIR) + 1:]
        if default_storage.exists(name):
            default_storage.delete(name)
        with open(source / entry["path"], "rb") as fh:
            saved = default_storage.save(name, File(fh))
        if saved != name:
            raise BackupError(f"storage saved {name} as {saved}")
    # A backup from an older Lablog gets this version's schema.
    call_command("migrate", verbosity=0)
    # Derived from the database: rebuilt on the next search rather than trusted from elsewhere.
    shutil.rmtree(settings.SEARCH_INDEX_DIR, ignore_errors=True)
    return manifest


def counts() -> dict:
    with connection.cursor() as cursor:
        result = {}
        for name, table in COUNTED.items():
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            result[name] = cursor.fetchone()[0]
    return result
