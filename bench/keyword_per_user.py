#!/usr/bin/env python
"""Keyword search with one user against twenty: does another user's collection change a
user's ranking, its query time, or the cost of writing passages?

Loads the corpus as user 1's notes, times keyword search (search/keyword.py, the ranking
alone, no HTTP) over the dev questions, then loads the same corpus for 19 more users and
times it again, in one run so the ratio holds on a loaded machine. Passages are written as a
save writes them (indexing.index_note_text), timed per note for the first and the last user,
and on SQLite again with the (per-user) keyword indexes of 200 and 1000 users in place (and
the insert of a row alone, in plain SQLite).

    .venv/bin/python bench/keyword_per_user.py [--users 20] [--repeat 5] [--json]

Runs on an isolated SQLite database (or a fresh PostgreSQL database when DATABASE_URL
points at one), like the other benches.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_CORPUS, DEV_QUERIES, Lab, load_json  # noqa: E402


def load(user, corpus) -> float:
    """Save the corpus as the user's notes, passages written as a save writes them; returns
    milliseconds per note for the passages."""
    from notes.models import Note
    from search import indexing

    notes = Note.objects.bulk_create([Note(user=user, title=e["title"], body=e["body"]) for e in corpus])
    started = time.perf_counter()
    for note in notes:
        indexing.index_note_text(note.pk)
    return (time.perf_counter() - started) * 1000 / len(notes)


def time_queries(user_id: int, queries: list[str], repeat: int) -> tuple[dict, list]:
    from search import keyword

    rankings = [keyword.search_passages(user_id, q, 100) for q in queries]  # warm
    per_query, cpu_started = [], time.process_time()
    for q in queries:
        runs = []
        for _ in range(repeat):
            started = time.perf_counter()
            keyword.search_passages(user_id, q, 100)
            runs.append((time.perf_counter() - started) * 1000)
        per_query.append(statistics.median(runs))
    cpu_ms = (time.process_time() - cpu_started) * 1000 / (len(queries) * repeat)
    per_query.sort()
    figures = {
        "p50_ms": round(statistics.median(per_query), 3),
        "p90_ms": round(per_query[int(0.9 * (len(per_query) - 1))], 3),
        "cpu_ms_per_query": round(cpu_ms, 3),
    }
    return figures, rankings


def trigger_cost(user, notes, users: int) -> dict:
    """SQLite: every passage written evaluates the triggers of every user's index. Adds the
    indexes of more (empty) users and times writing the same notes again."""
    from search import keyword_index

    costs = {users: round(load(user, notes), 2)}
    for total in (200, 1000):
        for user_id in range(10_000 + users, 10_000 + total):
            keyword_index.ensure(user_id)
        users = total
        costs[total] = round(load(user, notes), 2)
    return costs


def plain_trigger_cost(text: str, rows: int = 2000) -> dict:
    """SQLite alone (no Django): microseconds to insert a passage row while the keyword
    indexes of 1, 20, 200 and 1000 users exist."""
    import sqlite3

    from search import keyword_index

    costs = {}
    for users in (1, 20, 200, 1000):
        db = sqlite3.connect(":memory:")
        db.execute("CREATE TABLE search_passage(id INTEGER PRIMARY KEY, user_id INT, context TEXT, text TEXT)")
        for user_id in range(1, users + 1):
            for statement in keyword_index.create_statements(user_id):
                db.execute(statement)
        started = time.process_time()
        with db:
            db.executemany("INSERT INTO search_passage(user_id, context, text) VALUES (1, 'Title', ?)", [(text,)] * rows)
        costs[users] = round((time.process_time() - started) * 1e6 / rows, 1)
    return costs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    corpus = load_json(DEFAULT_CORPUS)
    queries = [q["q"] for path in DEV_QUERIES for q in load_json(path)]
    with Lab("keyword-per-user"):
        from django.contrib.auth import get_user_model
        from django.db import connection

        from search.models import Passage

        users = [get_user_model().objects.create_user(f"user{i}", password="bench-keyword-pw") for i in range(args.users)]
        first_write = load(users[0], corpus)
        alone, before = time_queries(users[0].pk, queries, args.repeat)
        for user in users[1:-1]:
            load(user, corpus)
        last_write = load(users[-1], corpus)
        crowded, after = time_queries(users[0].pk, queries, args.repeat)
        result = {
            "database": connection.vendor,
            "passages_per_user": Passage.objects.filter(user=users[0]).count(),
            "passages": Passage.objects.count(),
            "one_user": alone,
            f"{args.users}_users": crowded,
            "p50_ratio": round(crowded["p50_ms"] / alone["p50_ms"], 2),
            "write_ms_per_note": {"first_user": round(first_write, 2), "last_user": round(last_write, 2)},
            "user_1_rankings_unchanged": before == after,
        }
        if connection.vendor == "sqlite":
            result["write_ms_per_note_by_indexed_users"] = trigger_cost(users[0], corpus[:50], args.users)
            result["plain_sqlite_insert_us_per_row_by_indexed_users"] = plain_trigger_cost(corpus[0]["body"][:1000])
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
