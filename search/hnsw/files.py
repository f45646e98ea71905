"""The snapshot files on disk: one data file (hnswlib's own format) per snapshot and one
manifest per user and model naming the current data file with its SHA-256.

Writing: the data file goes to a temporary name, is synced and renamed into place, then
the manifest is replaced the same way. The data files it replaced stay for
KEEP_REPLACED_SECONDS: a reader that read the old manifest a moment ago still finds the
file it names (deleting it at once left that reader with nothing, and it rebuilt from the
database).

Reading: only a data file whose size and checksum match its manifest is ever handed to
hnswlib (which trusts its input); a manifest replaced while it was being read is read again.
"""

import hashlib
import json
import os
import time
from pathlib import Path

from django.conf import settings

from search.embedding import active_model
from search.models import DIMENSIONS

FORMAT = 1
# A reader reads the manifest, hashes the data file, then loads it: well under a second at
# 100k passages, so a replaced file kept a minute is never pulled from under one.
KEEP_REPLACED_SECONDS = 60.0


def index_dir() -> Path:
    path = Path(settings.SEARCH_INDEX_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def model_key(model: str) -> str:
    return hashlib.sha256(model.encode()).hexdigest()[:12]


def manifest_path(user_id: int, model: str | None = None) -> Path:
    """The manifest of the user's snapshot for `model` (default: the model their searches use)."""
    return index_dir() / f"user-{user_id}-{model_key(model or active_model(user_id))}.json"


def data_prefix(user_id: int, model: str) -> str:
    return f"user-{user_id}-{model_key(model)}-"


def signature(path: Path) -> tuple | None:
    """(inode, mtime, size) of a manifest: it changes whenever the writer replaces it."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(user_id: int, model: str) -> tuple[dict, Path, tuple] | None:
    """(manifest, data file, manifest signature) of a snapshot that passes every check, or
    None (missing, foreign, another model or dimension, damaged). Raises on garbage; the
    caller decides what an unreadable snapshot means."""
    path = manifest_path(user_id, model)
    for _ in range(3):  # a manifest replaced mid-read is read again
        seen = signature(path)
        if seen is None:
            return None
        manifest = json.loads(path.read_text())
        data = index_dir() / manifest["file"]
        if (
            manifest.get("format") != FORMAT or manifest.get("user_id") != user_id or manifest.get("model") != model
            or manifest.get("dims") != DIMENSIONS or "/" in manifest["file"]
        ):
            return None
        try:
            if data.stat().st_size != manifest["bytes"] or sha256(data) != manifest["sha256"]:
                return None
        except FileNotFoundError:
            if signature(path) != seen:
                continue
            return None
        return manifest, data, seen
    return None


def write(user_id: int, model: str, save_index, fields: dict) -> Path:
    """Write a snapshot: `save_index(path)` writes the data file; `fields` go into the
    manifest with what identifies and verifies the file."""
    directory = index_dir()
    name = f"{data_prefix(user_id, model)}{fields['seq']}-{os.getpid()}-{time.time_ns()}.bin"
    tmp = directory / (name + ".tmp")
    save_index(str(tmp))
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    data = directory / name
    os.replace(tmp, data)
    manifest = {
        "format": FORMAT, "user_id": user_id, "file": name, "sha256": sha256(data), "bytes": data.stat().st_size,
        "model": model, "dims": DIMENSIONS, "M": settings.SEARCH_HNSW_M,
        "ef_construction": settings.SEARCH_HNSW_EF_CONSTRUCTION, "written_at": time.time(), **fields,
    }
    path = manifest_path(user_id, model)
    tmp_manifest = path.with_suffix(".json.tmp")
    tmp_manifest.write_text(json.dumps(manifest))
    os.replace(tmp_manifest, path)
    _remove_replaced(user_id, model, keep=name)
    return data


def _remove_replaced(user_id: int, model: str, keep: str) -> None:
    cutoff = time.time() - KEEP_REPLACED_SECONDS
    for old in index_dir().glob(f"{data_prefix(user_id, model)}*.bin"):
        try:
            if old.name != keep and old.stat().st_mtime < cutoff:
                old.unlink()
        except FileNotFoundError:
            pass


def remove(user_id: int, model: str) -> None:
    """Every file of the user's snapshot for `model` (a retired model)."""
    manifest_path(user_id, model).unlink(missing_ok=True)
    for data in index_dir().glob(f"{data_prefix(user_id, model)}*.bin"):
        data.unlink(missing_ok=True)


def remove_user(user_id: int) -> None:
    """Every snapshot file of a deleted account, whatever the model."""
    for path in index_dir().glob(f"user-{user_id}-*"):
        path.unlink(missing_ok=True)


def info(user_id: int, model: str | None = None) -> dict:
    try:
        manifest = json.loads(manifest_path(user_id, model).read_text())
        data = index_dir() / manifest["file"]
        return {
            "bytes": data.stat().st_size, "age_s": max(0.0, time.time() - manifest["written_at"]),
            "seq": manifest["seq"], "deleted": manifest.get("deleted", 0), "model": manifest["model"],
            "count": len(manifest["live"]),
        }
    except Exception:
        return {"bytes": 0, "age_s": None, "seq": 0, "deleted": 0, "model": "", "count": 0}
