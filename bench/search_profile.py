#!/usr/bin/env python
"""Where a search's time goes at 100,000 passages, in-process (no HTTP), split by stage.

Builds the collection of bench/search_latency.py (one user, 20,000 notes of 5 passages,
perturbed real vectors, real text) once into a PostgreSQL database of its own that is kept
(--db, reused on later runs: filling takes minutes), or into a kept SQLite file without
DATABASE_URL. Then, for the dev questions, times each stage of a keyword search alone:
  - count_ms: the row-budget counts of every word, uncached (search/keyword.py);
  - rank_ms: the ranking query on the kept words;
  - candidates_ms / hits_ms: the ORM reads of search/services.py for those candidates;
  - txn_ms: opening and closing the consistent-read transaction (search/consistency.py);
  - search_ms: search/services.search(mode="keyword"), counts cached, as a page asks it.
and, with --explain, EXPLAIN (ANALYZE, BUFFERS) of the ranking query for a few questions.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/search_profile.py \
        --db lablog_bench_profile [--rounds 5] [--explain 3] [--json]
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_CORPUS, DEFAULT_QUERIES, ROOT, load_json  # noqa: E402


def setup(db_name: str, passages: int):
    """Django on the kept database; fills it the first time."""
    base = os.environ.get("DATABASE_URL", "")
    var = ROOT / "var" / f"profile-{db_name}"
    var.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        LABLOG_VAR_DIR=str(var), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", DJANGO_SETTINGS_MODULE="lablog.settings",
        SEARCH_MODELS_DIR=os.environ.get("SEARCH_MODELS_DIR", str(ROOT / "var" / "models")),
        SEARCH_RANKINGS_KEPT="0",  # each search ranks: search_ms times the ranking, not a kept one
    )
    if base.startswith("postgres"):
        import psycopg

        with psycopg.connect(base.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name]).fetchone():
                conn.execute(f'CREATE DATABASE "{db_name}"')
        os.environ["DATABASE_URL"] = base.rsplit("/", 1)[0] + "/" + db_name
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    User = get_user_model()
    user = User.objects.filter(username="bench").first()
    if user is None:
        from search_latency import fill

        user = User.objects.create_user("bench", password="bench-profile-pw")
        started = time.perf_counter()
        fill(user, load_json(DEFAULT_CORPUS), passages, np.random.default_rng(7))
        print(f"  filled in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
    return user


def ms(fn, rounds: int):
    """Median wall and CPU (this process) milliseconds of fn(), and its last result."""
    wall, cpu, result = [], [], None
    for _ in range(rounds):
        w, c = time.perf_counter(), time.process_time()
        result = fn()
        wall.append((time.perf_counter() - w) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return statistics.median(wall), statistics.median(cpu), result


def profile(user, questions, rounds: int, explain: int) -> dict:
    from django.db import connection, connections, transaction

    from search import keyword, services
    from search.consistency import READ_ALIAS, read_connection, repeatable_read
    from search.models import Passage

    depth = services.depth(10)
    stages = {k: [] for k in ("count_ms", "rank_ms", "candidates_ms", "hits_ms", "txn_ms", "search_ms", "search_cpu_ms")}
    rows_matched, results, plans = [], {}, []
    for n, q in enumerate(questions):
        words = keyword.terms(q)

        def counts():
            keyword._matches_cache.clear()
            return keyword.ranked_words(user.pk, words, read_connection())

        t, _, kept = ms(counts, rounds)
        stages["count_ms"].append(t)
        t, _, ranking = ms(lambda: keyword.search_passages(user.pk, q, depth), rounds)
        stages["rank_ms"].append(t)
        results[q] = [pk for pk, _ in ranking]
        ids = [pk for pk, _ in ranking]
        allowed = Passage.objects.filter(services._filter_q(user, services.SearchFilters()), pk__in=ids)
        t, _, _ = ms(lambda: list(allowed.values_list("pk", "kind", "note_id", "paper_id")), rounds)
        stages["candidates_ms"].append(t)
        t, _, _ = ms(lambda: list(Passage.objects.filter(pk__in=ids[:10]).values(*services.HIT_FIELDS)), rounds)
        stages["hits_ms"].append(t)

        def txn():
            with transaction.atomic(using=READ_ALIAS), connections[READ_ALIAS].cursor() as cursor:
                cursor.execute("SELECT 1")

        t, _, _ = ms(txn, rounds)
        stages["txn_ms"].append(t)
        services.search(user, q, mode="keyword")  # counts cached, as for every later search
        t, c, _ = ms(lambda: services.search(user, q, mode="keyword"), rounds)
        stages["search_ms"].append(t)
        stages["search_cpu_ms"].append(c)
        db = read_connection()
        if db.vendor == "postgresql":
            with db.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM search_passage WHERE user_id = %s AND search_tsv @@ to_tsquery('english', %s)",
                    [user.pk, " | ".join(f"'{w}'" for w in kept)],
                )
                rows_matched.append(cursor.fetchone()[0])
            if n < explain:
                with repeatable_read():
                    plans.append(explain_rank(user.pk, q, depth))
    summary = {k: {"p50": round(float(np.percentile(v, 50)), 2), "p90": round(float(np.percentile(v, 90)), 2),
                   "max": round(max(v), 2)} for k, v in stages.items()}
    if rows_matched:
        summary["rows_ranked"] = {"p50": int(np.percentile(rows_matched, 50)), "max": max(rows_matched)}
    summary["budget"] = keyword.row_budget()
    return {"stages": summary, "results": results, "plans": plans}


def explain_rank(user_id: int, q: str, depth: int) -> str:
    """The ranking query search/keyword.py runs, under EXPLAIN ANALYZE."""
    from search import keyword
    from search.consistency import read_connection

    db = read_connection()
    captured = []

    def capture(execute, sql, params, many, context):
        if "ts_rank" in sql:
            captured.append((sql, params))
        return execute(sql, params, many, context)

    with db.execute_wrapper(capture):
        keyword.search_passages(user_id, q, depth)
    sql, params = captured[-1]
    with db.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return f"-- {q}\n" + "\n".join(row[0] for row in cursor.fetchall())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="lablog_bench_profile", help="PostgreSQL database (kept) or SQLite file stem")
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--queries", default=str(DEFAULT_QUERIES))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--explain", type=int, default=0)
    parser.add_argument("--results", help="write each question's keyword ranking (passage ids) to this JSON file")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    user = setup(args.db, args.passages)
    questions = [q["q"] for q in load_json(args.queries)]
    out = profile(user, questions, args.rounds, args.explain)
    out["load_avg_1m"] = round(os.getloadavg()[0], 2)
    for plan in out.pop("plans"):
        print(plan + "\n")
    results = out.pop("results")
    if args.results:
        Path(args.results).write_text(json.dumps(results, indent=1))
    for key, value in out["stages"].items():
        print(f"{key:>16}: {value}")
    print(f"{'load_avg_1m':>16}: {out['load_avg_1m']}")
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
