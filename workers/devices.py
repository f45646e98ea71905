"""The devices a worker machine offers, found without touching CUDA (a Celery worker's main
process forks its pool: a CUDA context made before the fork would break every child)."""

import os
import platform
import subprocess
from pathlib import Path


def cpu_name() -> str:
    """The CPU model ("Intel(R) Xeon(R) ..."), or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "CPU"


def all_gpus() -> list[dict]:
    """Every NVIDIA GPU of the machine, by nvidia-smi: index, uuid, name, memory_bytes ([] without one)."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        index, uuid, name, mib = (part.strip() for part in line.split(",", 3))
        gpus.append({"index": int(index), "uuid": uuid, "name": name, "memory_bytes": int(float(mib)) * 2**20})
    return gpus


def visible_gpus(env=None) -> list[dict]:
    """The GPUs this process may use: all of them, or those CUDA_VISIBLE_DEVICES names (indexes or UUIDs)."""
    env = os.environ if env is None else env
    gpus = all_gpus()
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return gpus
    chosen = []
    for item in (part.strip() for part in visible.split(",")):
        if not item or item.startswith("-"):
            break  # CUDA stops at the first invalid entry
        match = [g for g in gpus if str(g["index"]) == item or g["uuid"].startswith(item)]
        if not match:
            break
        chosen.append(match[0])
    return chosen


def devices() -> list[dict]:
    """What a worker announces: its visible GPUs, else its CPU (name, memory_bytes)."""
    gpus = visible_gpus()
    if gpus:
        return [{"type": "cuda", "name": g["name"], "memory_bytes": g["memory_bytes"]} for g in gpus]
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 0
    return [{"type": "cpu", "name": cpu_name(), "memory_bytes": memory}]
