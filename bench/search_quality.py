#!/usr/bin/env python
"""Search quality through the real pipeline.

Loads a corpus (`[{"title", "body"}]`) as one user's notes the way the app saves them
(Note.objects.create_note -> on_commit -> task on queue `embed` -> a real Celery worker
subprocess embeds and writes vectors -> the searching process's HNSW index), then runs
the questions (`[{"q", "expected_title"}]`) and prints MRR@10 and Recall@1/5/10 for
hybrid, semantic and keyword search, and for a plain SQLite FTS5 BM25 over whole notes
(the floor to beat). With --json the last line is the figures as JSON.

    .venv/bin/python bench/search_quality.py [--corpus FILE] [--queries FILE] [--json]

Runs on an isolated SQLite database and embedded redis-server under var/ (or a fresh
PostgreSQL database when DATABASE_URL points at one); nothing of the app's data is touched.
"""

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_CORPUS, DEFAULT_QUERIES, Lab, load_json, wait_indexed  # noqa: E402

MODES = ("hybrid", "semantic", "keyword")


def metrics(ranks: list[int | None]) -> dict:
    n = len(ranks) or 1
    return {
        "mrr10": round(sum(1 / r for r in ranks if r and r <= 10) / n, 4),
        "r1": round(sum(1 for r in ranks if r and r <= 1) / n, 4),
        "r5": round(sum(1 for r in ranks if r and r <= 5) / n, 4),
        "r10": round(sum(1 for r in ranks if r and r <= 10) / n, 4),
    }


def rank_of(titles: list[str], expected: str) -> int | None:
    wanted = " ".join(expected.split()).casefold()
    for i, title in enumerate(titles, 1):
        if " ".join(title.split()).casefold() == wanted:
            return i
    return None


def whole_note_bm25(corpus: list[dict], queries: list[dict]) -> list[int | None]:
    """The floor: one FTS5 row per whole note, BM25, the query's words ORed."""
    from search.keyword import terms

    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE notes USING fts5(title, body, tokenize='porter unicode61')")
    db.executemany("INSERT INTO notes(title, body) VALUES (?, ?)", [(n["title"], n["body"]) for n in corpus])
    ranks = []
    for q in queries:
        words = terms(q["q"])
        rows = db.execute(
            "SELECT title FROM notes WHERE notes MATCH ? ORDER BY bm25(notes) LIMIT 10",
            (" OR ".join(f'"{w}"' for w in words),),
        ).fetchall() if words else []
        ranks.append(rank_of([r[0] for r in rows], q["expected_title"]))
    return ranks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--queries", default=str(DEFAULT_QUERIES))
    parser.add_argument("--json", action="store_true", help="last line: the figures as JSON")
    args = parser.parse_args()
    corpus, queries = load_json(args.corpus), load_json(args.queries)

    with Lab("quality") as lab:
        from django.contrib.auth import get_user_model

        from notes.models import Note
        from search import services

        lab.worker()
        user = get_user_model().objects.create_user("bench", password="bench-quality-pw")
        started = time.monotonic()
        for item in corpus:
            Note.objects.create_note(user, title=item.get("title", ""), body=item.get("body", ""))
        saved = time.monotonic() - started
        waited = wait_indexed(user, quiet=args.json)
        print(f"corpus: {len(corpus)} notes saved in {saved:.1f}s, all embedded {waited:.1f}s later", file=sys.stderr)

        results = {}
        for mode in MODES:
            ranks, times = [], []
            for q in queries:
                page = services.search(user, q["q"], mode=mode, limit=10, filters=services.SearchFilters(kinds=("note", "snippet")))
                times.append(page.took_ms)
                ranks.append(rank_of([h.title for h in page.hits], q["expected_title"]))
            results[mode] = metrics(ranks)
            results[mode]["ms_p50"] = round(sorted(times)[len(times) // 2], 1)
        results["fts5_whole_note"] = metrics(whole_note_bm25(corpus, queries))

    print(f"{len(queries)} questions over {len(corpus)} notes")
    print(f"{'mode':<16}{'MRR@10':>8}{'R@1':>7}{'R@5':>7}{'R@10':>7}")
    for mode, m in results.items():
        print(f"{mode:<16}{m['mrr10']:>8.3f}{m['r1']:>7.2f}{m['r5']:>7.2f}{m['r10']:>7.2f}")
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
