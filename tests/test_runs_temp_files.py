"""Jobs on one host never share a temp file, and a crash never leaves a half-written file
under the final name for a later run to trust."""

import threading

import pytest

from notes.models import Note
from workers.models import Run, Runnable
from workers.runner import JobContext


@pytest.fixture
def contexts(user):
    note = Note.objects.create_note(user, title="Temp files")
    runnable = Runnable.objects.create(note=note, kind="cfg_diffusion", params={})
    runs = [Run.objects.create(runnable=runnable, params={}) for _ in range(2)]
    return [JobContext(run, f"owner-{i}", {}) for i, run in enumerate(runs)]


def test_two_jobs_writing_the_same_checkpoint_use_different_temp_files(contexts, tmp_path):
    final = tmp_path / "cache" / "ddpm.pt"
    both_open = threading.Barrier(2)
    temps = []

    def write(ctx, payload):
        with ctx.atomic_path(final) as tmp:
            temps.append(tmp)
            tmp.write_bytes(payload * 100_000)
            both_open.wait(5)  # both are mid-write at once

    threads = [threading.Thread(target=write, args=(ctx, bytes([65 + i]))) for i, ctx in enumerate(contexts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert temps[0] != temps[1] and temps[0].parent == final.parent
    data = final.read_bytes()
    assert data in (b"A" * 100_000, b"B" * 100_000)  # one whole file, never a mix
    assert sorted(p.name for p in final.parent.iterdir()) == ["ddpm.pt"]  # no temp left behind


def test_a_crash_mid_write_leaves_no_file_under_the_final_name(contexts, tmp_path):
    final = tmp_path / "ddpm.pt"
    with pytest.raises(RuntimeError):
        with contexts[0].atomic_path(final) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed mid-save")
    assert list(tmp_path.iterdir()) == []


def test_each_run_has_its_own_temp_dir_removed_at_the_end(contexts):
    a, b = contexts[0].temp_dir, contexts[1].temp_dir
    assert a != b and a.is_dir() and b.is_dir()
    (a / "scratch").write_text("x")
    contexts[0].cleanup()
    assert not a.exists() and b.exists()
    contexts[1].cleanup()
