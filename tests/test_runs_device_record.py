"""A run records where it ran: device ("cuda:0" / "cpu"), the device's name, and on a GPU the
peak memory the job allocated."""

import pytest

from notes.models import Note
from workers import runner
from workers.devices import cpu_name
from workers.jobs import JobKind, Param
from workers.models import Run, Runnable


@pytest.fixture
def run(user):
    note = Note.objects.create_note(user, title="Devices")
    return Run.objects.create(runnable=Runnable.objects.create(note=note, kind="probe", params={}), params={})


def probe_kind(job):
    return JobKind(name="probe", title="Probe", description="", params=(Param("n", "int", 1),), run=job)


def test_a_cpu_run_records_cpu_and_the_cpu_model_and_no_gpu_memory(run, monkeypatch):
    monkeypatch.setattr(runner, "get_kind", lambda name: probe_kind(lambda ctx: ctx.torch_device()))
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert runner.execute_run(run.pk, "cpu@test") == Run.SUCCEEDED
    run.refresh_from_db()
    assert run.device == "cpu" and run.device_name == cpu_name() and run.peak_memory_bytes is None


def test_a_gpu_run_records_the_gpu_name_and_its_peak_memory(run, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device: "NVIDIA H200")
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device: None)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device: 3 * 2**30)
    monkeypatch.setattr(runner, "get_kind", lambda name: probe_kind(lambda ctx: ctx.torch_device()))
    assert runner.execute_run(run.pk, "gpu0@test") == Run.SUCCEEDED
    run.refresh_from_db()
    assert (run.device, run.device_name, run.peak_memory_bytes) == ("cuda:0", "NVIDIA H200", 3 * 2**30)
