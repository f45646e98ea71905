"""What a run's log flushes cost: the old way (the whole log, up to RUNS_LOG_MAX_CHARS, written
into the row at every flush) against appending only the new lines in SQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/runs_log_flush.py [--lines 2000]

A job logs one 80-character line per flush into a log that already holds --start-chars characters
(default 150,000, near the 200,000 cap); prints the mean time per flush and the bytes sent per flush.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Lab  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--start-chars", type=int, default=150_000)
    args = parser.parse_args()
    with Lab("logflush") as lab:
        from django.contrib.auth import get_user_model
        from django.db import connection

        from notes.models import Note
        from workers.models import Run, Runnable

        user = get_user_model().objects.create_user("bench")
        note = Note.objects.create_note(user, title="Log bench")
        runnable = Runnable.objects.create(note=note, kind="cfg_diffusion", params={})
        line = "12:00:00 " + "step 1234 loss 0.123456 " * 3 + "\n"
        line = line[:79] + "\n"
        start = ("x" * 79 + "\n") * (args.start_chars // 80)
        results = {}
        for mode in ("rewrite", "append"):
            run = Run.objects.create(runnable=runnable, params={}, log="")
            assert run.claim("bench", "host")
            Run.objects.filter(pk=run.pk).update(log=start)
            text = start
            times, sent = [], []
            for _ in range(args.lines):
                t0 = time.perf_counter()
                if mode == "rewrite":
                    text = (text + line)[-200_000:]
                    run.record("bench", log=text)
                    sent.append(len(text))
                else:
                    run.record("bench", log_append=line)
                    sent.append(len(line))
                times.append(time.perf_counter() - t0)
            final = Run.objects.values_list("log", flat=True).get(pk=run.pk)
            results[mode] = (statistics.mean(times) * 1000, statistics.mean(sent), len(final))
        print(f"database: {connection.vendor}; {args.lines} flushes of one 80-char line into a "
              f"{args.start_chars:,}-char log")
        for mode, (ms, sent, final) in results.items():
            print(f"  {mode:8s} {ms:6.2f} ms per flush, {sent:9,.0f} bytes of log sent per flush, final log {final:,} chars")


if __name__ == "__main__":
    main()
