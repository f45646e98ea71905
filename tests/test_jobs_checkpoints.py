"""Checkpoints jobs cache on a worker host: concurrent writers never expose a torn file, and a
damaged file is refused (and removed) rather than loaded."""

import os
import threading
import time
from types import SimpleNamespace

import pytest

from workers.jobs import _checkpoints
from workers.runner import JobContext

# What a job's ctx offers for writing: a unique temp name next to the file, renamed on success.
CTX = SimpleNamespace(atomic_path=lambda final: JobContext.atomic_path(None, final))


def test_concurrent_writers_of_one_checkpoint_never_expose_a_torn_file(tmp_path):
    import torch

    path = tmp_path / "model.pt"
    errors, seen = [], set()
    done = threading.Event()

    def write(writer: int):
        try:
            for _ in range(15):
                _checkpoints.save(CTX, path, {"w": torch.full((200_000,), float(writer))})
        except Exception as exc:  # the old fixed ".tmp" name: one writer's rename took the other's file
            errors.append(exc)

    def read():
        while not done.is_set():
            state = _checkpoints.load(path)  # CorruptCheckpoint here would fail the test
            if state is not None:
                values = state["w"].unique().tolist()
                assert len(values) == 1, "a checkpoint mixing two writes"
                seen.add(values[0])

    writers = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    reader = threading.Thread(target=read)
    reader.start()
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    done.set()
    reader.join()
    assert not errors, errors
    assert seen and _checkpoints.load(path)["w"].shape == (200_000,)
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary file left behind


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "no header"])
def test_a_damaged_checkpoint_is_refused_and_removed(tmp_path, damage):
    import torch

    path = tmp_path / "model.pt"
    _checkpoints.save(CTX, path, {"w": torch.arange(1000.0)})
    data = path.read_bytes()
    if damage == "truncated":
        data = data[: len(data) - 100]
    elif damage == "flipped byte":
        data = data[:-50] + bytes([data[-50] ^ 0xFF]) + data[-49:]
    else:
        data = data[data.index(b"\n", len(_checkpoints.MAGIC)) + 1:]  # a bare torch.save file
    path.write_bytes(data)
    with pytest.raises(_checkpoints.CorruptCheckpoint):
        _checkpoints.load(path)
    assert not path.exists()
    assert _checkpoints.load(path) is None  # so the job trains again


def test_temporary_files_of_writers_that_died_long_ago_are_swept(tmp_path):
    import torch

    stale, fresh = tmp_path / ".model.pt.abc123.tmp", tmp_path / ".model.pt.def456.tmp"
    stale.write_bytes(b"half a checkpoint")
    fresh.write_bytes(b"a write in progress")
    old = time.time() - _checkpoints.STALE_TEMP_SECONDS - 60
    os.utime(stale, (old, old))
    _checkpoints.save(CTX, tmp_path / "model.pt", {"w": torch.zeros(3)})
    assert not stale.exists() and fresh.exists()
