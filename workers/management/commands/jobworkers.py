"""manage.py jobworkers [--queues gpu] [--print]

Starts the job workers of this machine: one Celery worker per visible GPU, each pinned to its GPU
with CUDA_VISIBLE_DEVICES and named for it (gpu0@host, gpu1@host, ...), or, on a machine without
one, a single worker named cpu@host. Each serves the `gpu` queue (the base queue of the job kinds)
with concurrency 1: one job per device at a time. `make run` and `make gpu-workers` start it;
with --print it prints the commands instead of running them.

Ctrl+C or SIGTERM stops every worker it started (each finishes or hands back its current job).
"""

import os
import shlex
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand

from workers.devices import visible_gpus


def worker_commands(queues: str, loglevel: str = "INFO", env=None) -> list[tuple[dict, list[str]]]:
    """(extra environment, argv) of each worker to start on this machine."""
    base = [sys.executable, "-m", "celery", "-A", "lablog", "worker", "--queues", queues,
            "--concurrency", "1", "--loglevel", loglevel]
    gpus = visible_gpus(env)
    if not gpus:
        # No GPU: name it for what it is, so the note says "cpu on cpu@host", not "gpu@host".
        return [({"CUDA_VISIBLE_DEVICES": ""}, [*base, "--hostname", "cpu@%h"])]
    return [
        ({"CUDA_VISIBLE_DEVICES": gpu["uuid"]}, [*base, "--hostname", f"gpu{gpu['index']}@%h"])
        for gpu in gpus
    ]


class Command(BaseCommand):
    help = "Start one job worker per visible GPU (or one CPU worker)."

    def add_arguments(self, parser):
        parser.add_argument("--queues", default="gpu", help="base queue(s) to serve (default: gpu)")
        parser.add_argument("--loglevel", default="INFO")
        parser.add_argument("--print", action="store_true", help="print the commands, start nothing")

    def handle(self, *args, **opts):
        commands = worker_commands(opts["queues"], opts["loglevel"])
        if opts["print"]:
            for extra, argv in commands:
                env = " ".join(f"{k}={shlex.quote(v)}" for k, v in extra.items())
                self.stdout.write(f"{env} {shlex.join(argv)}".strip())
            return
        procs = [subprocess.Popen(argv, env={**os.environ, **extra}) for extra, argv in commands]
        asked = []

        def on_signal(signum, frame):
            asked.append(signum)

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        # A worker that dies takes the others down too: the process manager then sees the failure.
        while all(proc.poll() is None for proc in procs) and not asked:
            time.sleep(0.5)
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait()
        if not asked:
            sys.exit(max(proc.returncode or 1 for proc in procs))
