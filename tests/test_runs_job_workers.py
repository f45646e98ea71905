"""`make run` and `make gpu-workers` start the job workers through `manage.py jobworkers`:
one worker per visible GPU pinned with CUDA_VISIBLE_DEVICES, or one named cpu@host."""

import io
from pathlib import Path

from django.core.management import call_command

from workers import devices
from workers.management.commands import jobworkers

ROOT = Path(__file__).resolve().parent.parent
GPUS = [
    {"index": 0, "uuid": "GPU-aaaa", "name": "NVIDIA H200", "memory_bytes": 141 * 2**30},
    {"index": 1, "uuid": "GPU-bbbb", "name": "NVIDIA H200", "memory_bytes": 141 * 2**30},
]


def printed(monkeypatch, gpus, visible=None):
    monkeypatch.setattr(devices, "all_gpus", lambda: gpus)
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    out = io.StringIO()
    call_command("jobworkers", "--print", stdout=out)
    return out.getvalue().strip().splitlines()


def test_make_run_starts_the_job_workers_through_jobworkers():
    procfile = (ROOT / "Procfile").read_text()
    jobs = [line for line in procfile.splitlines() if "--queues gpu" in line or "jobworkers" in line]
    assert jobs == ["jobs: .venv/bin/python manage.py jobworkers"]
    assert "gpu@%h" not in procfile
    assert "manage.py jobworkers" in (ROOT / "Makefile").read_text().split("gpu-workers:")[1].split("\n\n")[0]


def test_a_machine_without_gpu_runs_one_worker_named_cpu(monkeypatch):
    lines = printed(monkeypatch, [])
    assert len(lines) == 1
    assert "--hostname cpu@%h" in lines[0] and "--queues gpu" in lines[0] and "--concurrency 1" in lines[0]
    assert lines[0].startswith("CUDA_VISIBLE_DEVICES=''")


def test_one_worker_per_visible_gpu_each_pinned_to_its_own(monkeypatch):
    lines = printed(monkeypatch, GPUS)
    assert [line.split("--hostname ")[1] for line in lines] == ["gpu0@%h", "gpu1@%h"]
    assert lines[0].startswith("CUDA_VISIBLE_DEVICES=GPU-aaaa ") and lines[1].startswith("CUDA_VISIBLE_DEVICES=GPU-bbbb ")
    # CUDA_VISIBLE_DEVICES narrows the set, as it does for CUDA itself.
    assert [line.split("--hostname ")[1] for line in printed(monkeypatch, GPUS, visible="1")] == ["gpu1@%h"]
    assert printed(monkeypatch, GPUS, visible="")[0].split("--hostname ")[1] == "cpu@%h"


def test_worker_announces_its_visible_gpus_with_name_and_memory(monkeypatch):
    monkeypatch.setattr(devices, "all_gpus", lambda: GPUS)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-bbbb")
    assert devices.devices() == [{"type": "cuda", "name": "NVIDIA H200", "memory_bytes": 141 * 2**30}]
    assert jobworkers.worker_commands("gpu")[0][0] == {"CUDA_VISIBLE_DEVICES": "GPU-bbbb"}


def test_gpus_are_read_from_nvidia_smi_and_narrowed_by_cuda_visible_devices(monkeypatch, tmp_path):
    fake = tmp_path / "nvidia-smi"
    fake.write_text(
        "#!/bin/sh\n"
        'echo "0, GPU-1111-aaaa, NVIDIA H200, 143771"\n'
        'echo "1, GPU-2222-bbbb, NVIDIA H200, 143771"\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    gpus = devices.all_gpus()
    assert [(g["index"], g["uuid"], g["name"], g["memory_bytes"]) for g in gpus] == [
        (0, "GPU-1111-aaaa", "NVIDIA H200", 143771 * 2**20), (1, "GPU-2222-bbbb", "NVIDIA H200", 143771 * 2**20)]
    assert [g["index"] for g in devices.visible_gpus({"CUDA_VISIBLE_DEVICES": "1,0"})] == [1, 0]
    assert [g["index"] for g in devices.visible_gpus({"CUDA_VISIBLE_DEVICES": "GPU-2222"})] == [1]
    assert devices.visible_gpus({"CUDA_VISIBLE_DEVICES": "-1"}) == []
    out = io.StringIO()
    call_command("jobworkers", "--print", stdout=out)
    assert [line.split("--hostname ")[1] for line in out.getvalue().splitlines()] == ["gpu0@%h", "gpu1@%h"]
    monkeypatch.setenv("PATH", "/nonexistent")
    assert devices.all_gpus() == []  # no nvidia-smi: no GPU
