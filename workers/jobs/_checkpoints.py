"""Checkpoints that jobs cache on their worker: written atomically, read only when whole.

Several jobs may run at once on one host (a worker with concurrency > 1, or one worker per
GPU sharing RUNS_CACHE_DIR). Each writer writes its own uniquely named temporary file in the
cache directory (`ctx.atomic_path`), flushes it to disk and renames it into place (atomic on
POSIX), so a reader sees either no checkpoint or a whole one, and two writers of the same
checkpoint never touch each other's file. The file begins with a digest of its payload: a file
cut short by a crash, a full disk or a torn copy fails the check and is deleted, and the job trains again instead of
trusting it.
"""

import hashlib
import io
import os
import time
from pathlib import Path

MAGIC = b"LABLOG-CKPT1\n"
DIGEST = 64  # hex characters of sha256
TEMP_SUFFIX = ".tmp"  # what ctx.atomic_path names its temporary files
STALE_TEMP_SECONDS = 6 * 3600  # a temporary file this old belongs to a writer that died


class CorruptCheckpoint(Exception):
    pass


def save(ctx, path: Path, obj) -> None:
    """torch.save `obj` to `path`, atomically, with a digest of the bytes."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    payload = buf.getvalue()
    header = MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n"
    with ctx.atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(header)
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
    _remove_stale_temps(path.parent)


def load(path: Path, map_location=None):
    """The object saved at `path`; None when there is none. A damaged file is deleted and
    reported with CorruptCheckpoint, so the caller can say so and rebuild it."""
    import torch

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    head = len(MAGIC) + DIGEST + 1
    payload = data[head:]
    if (
        not data.startswith(MAGIC)
        or len(data) < head
        or data[len(MAGIC):head - 1].decode(errors="replace") != hashlib.sha256(payload).hexdigest()
    ):
        _discard(path, data)
        raise CorruptCheckpoint(f"{path.name}: digest does not match its contents ({len(data)} bytes)")
    return torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)


def load_or_retrain(ctx, path: Path, map_location=None):
    """What a job calls: the saved object, or None (train again) when there is none or it was
    damaged, which the run's log says."""
    try:
        return load(path, map_location=map_location)
    except CorruptCheckpoint as exc:
        ctx.log(f"discarded a damaged checkpoint, training again ({exc})")
        return None


def _discard(path: Path, data: bytes) -> None:
    # Remove it only if it is still the damaged file we read: a writer may have replaced it since.
    try:
        if path.read_bytes() == data:
            path.unlink()
    except FileNotFoundError:
        pass


def _remove_stale_temps(directory: Path) -> None:
    # Left by a writer killed before it could clean up (SIGKILL, power loss); never read.
    cutoff = time.time() - STALE_TEMP_SECONDS
    for tmp in directory.glob(f".*{TEMP_SUFFIX}"):
        try:
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
        except FileNotFoundError:
            pass
