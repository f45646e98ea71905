#!/usr/bin/env python
"""Keyword ranking at 100k passages where the row budget leaves a question's common words
out: what scoring the found passages again on every word (search/keyword_rescore.py) costs
and gives, against the kept words' ranking alone (before) and the ranking on every word with
no budget (the ideal, too slow to serve), in one run.

Fills one user's collection with the corpus's passages repeated (text only: the rows
bench/search_latency.py writes, without vectors), then for every dev question whose words
pass the budget, times each way (median of --repeat runs, counts warm), and compares each
passage scored again with the score the every-word ranking gives it. Hybrid's way also
scores 100 further passages standing in for meaning search's (random passages of the user:
cost only; the quality figures come from bench/search_quality.py).

    .venv/bin/python bench/keyword_rescore.py [--passages 100000] [--repeat 5] [--json]

Runs on an isolated SQLite database (or a fresh PostgreSQL database when DATABASE_URL
points at one), like the other benches.
"""

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_CORPUS, DEV_QUERIES, Lab, load_json  # noqa: E402

DEPTH = 200  # passages read from the keyword ranking (the app's fusion depth)
PER_NOTE = 5


def fill(user, corpus, total: int) -> list[int]:
    from notes.models import Note
    from search import keyword_terms
    from search.models import Passage
    from search.passages import split

    real = [(n["title"], p.text) for n in corpus for p in split(n["title"], n["body"])]
    terms = keyword_terms.to_store(real)  # the token counts saving keeps (SQLite)
    notes = Note.objects.bulk_create([Note(user=user, title=f"Note {i}", body="") for i in range(total // PER_NOTE)], batch_size=2000)
    rows = []
    for k in range(total):
        title, text = real[k % len(real)]
        rows.append(Passage(user=user, kind="note", note=notes[k // PER_NOTE], context=title, text=text, content_hash=f"b{k}",
                            terms=terms[k % len(real)]))
        if len(rows) == 5000:
            Passage.objects.bulk_create(rows)
            rows = []
            print(f"\r  filled {k + 1}/{total}", end="", file=sys.stderr, flush=True)
    Passage.objects.bulk_create(rows)
    print(file=sys.stderr)
    return list(Passage.objects.filter(user=user).values_list("pk", flat=True))


def timed(fn, repeat: int):
    result, runs = fn(), []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
    return result, statistics.median(runs)


def summary(values: list[float]) -> dict:
    values = sorted(values)
    return {"p50_ms": round(statistics.median(values), 2), "p90_ms": round(values[int(0.9 * (len(values) - 1))], 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    corpus = load_json(DEFAULT_CORPUS)
    questions = [q["q"] for path in DEV_QUERIES for q in load_json(path)]

    with Lab("rescore"):
        from django.contrib.auth import get_user_model
        from django.db import connection

        from search import keyword, keyword_index

        user = get_user_model().objects.create_user("bench", password="bench-rescore-pw")
        if connection.vendor == "sqlite":
            keyword_index.ensure(user.pk)
        started = time.monotonic()
        ids = fill(user, corpus, args.passages)
        print(f"filled {len(ids)} passages in {time.monotonic() - started:.0f}s", file=sys.stderr)
        rng = random.Random(1)
        weight = keyword.default_context_weight()
        ways = {
            "kept words only (before)": lambda q, kept, words, extra: keyword._rank(connection, user.pk, kept, DEPTH, weight),
            "hybrid's: + every word on 100 found and 100 of meaning's": lambda q, kept, words, extra: keyword.search_passages(
                user.pk, q, DEPTH, also=lambda: extra),
            "keyword mode's: + every word on all 200 found": lambda q, kept, words, extra: keyword.search_passages(user.pk, q, DEPTH),
            "every word, no budget (too slow to serve)": lambda q, kept, words, extra: keyword._rank(connection, user.pk, words, DEPTH, weight),
        }
        times = {name: [] for name in ways}
        first_ms, worst_difference, asked = [], 0.0, 0
        for q in questions:
            words = keyword.terms(q)
            keyword._matches_cache.clear()
            kept = keyword.ranked_words(user.pk, words, connection)
            if len(kept) == len(words):
                continue
            asked += 1
            extra = rng.sample(ids, 200)
            started = time.perf_counter()  # first time: the left-out words' exact counts not yet cached
            keyword.search_passages(user.pk, q, DEPTH, also=lambda: extra)
            first_ms.append((time.perf_counter() - started) * 1000)
            results = {}
            for name, way in ways.items():
                results[name], ms = timed(lambda: way(q, kept, words, extra), args.repeat if "no budget" not in name else 1)
                times[name].append(ms)
            # Scored again, a passage gets the score the ranking on every word gives it.
            truth = dict(results["every word, no budget (too slow to serve)"])
            for pk, score in results["keyword mode's: + every word on all 200 found"]:
                if pk in truth:
                    worst_difference = max(worst_difference, abs(score - truth[pk]) / abs(truth[pk]))
        base = statistics.median(times["kept words only (before)"])
        figures = {
            "vendor": connection.vendor, "passages": len(ids), "questions_past_budget": asked, "questions": len(questions),
            "budget": keyword.row_budget(),
            "ways": {name: {**summary(t), "p50_vs_before": round(statistics.median(t) / base, 2)} for name, t in times.items()},
            "hybrid_first_time": summary(first_ms),
            "largest_relative_score_difference_from_every_word": worst_difference,
        }
    print(f"{figures['vendor']}, {figures['passages']} passages, budget {figures['budget']} rows: "
          f"{asked} of {len(questions)} dev questions have words past it; keyword ranking, {DEPTH} deep")
    for name, f in figures["ways"].items():
        print(f"  {name:<58} p50 {f['p50_ms']:>7.2f} ms  p90 {f['p90_ms']:>7.2f} ms  (x{f['p50_vs_before']:.2f})")
    print(f"  hybrid's, first time (left-out words counted): p50 {figures['hybrid_first_time']['p50_ms']} ms, "
          f"p90 {figures['hybrid_first_time']['p90_ms']} ms")
    print(f"  scores given again vs the every-word ranking's: largest relative difference {worst_difference:.1e}")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
