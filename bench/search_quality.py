#!/usr/bin/env python
"""Search quality through the real pipeline, and the cross-validated choice of the ranking constants.

Loads a corpus (`[{"title", "body"}]`) as one user's notes the way the app saves them
(Note.objects.create_note -> on_commit -> task on queue `embed` -> a real Celery worker
subprocess embeds and writes vectors -> the searching process's HNSW index), then runs
each question file (`[{"q", "expected_title"}]`) and prints MRR@10 and Recall@1/5/10 for
hybrid, semantic and keyword search as the app answers them, and for a plain SQLite FTS5
BM25 over whole notes (the floor to beat).

With --cv FOLDS it also chooses the ranking constants (search/fusion.py: fusion method and
weights, depth, per-passage aggregation; search/keyword.py: the context weight) by grouped
k-fold cross-validation over all the questions of every file: each mode's passage ranking is
read once per question (and per context weight), every candidate configuration is replayed
offline through the app's own fusion code, each fold chooses on the other folds and is
scored on its own questions (folds group the questions by their expected note, so no note
is both chosen on and scored on). It prints the folds and the configuration chosen on all
questions, which is what search/fusion.py's CHOSEN should hold for the database it ran on.

    .venv/bin/python bench/search_quality.py [--corpus FILE] [--queries FILE ...] [--cv 5] [--json]

With --distractors N the user's collection is first grown by N passages of unrelated real
text (bench/distractors.py: the installed libraries' docstrings, embedded by the app's model),
so the questions are answered at that scale with the real keyword ranking: at 100,000 the
most common query words pass SEARCH_KEYWORD_ROW_BUDGET as they would in a user's years of notes.

--save-replay FILE keeps what the replay needs; --from-replay FILE [FILE ...] cross-validates
from kept files without the pipeline. Given the same questions asked of several collections
(the corpus alone and grown to 100k), the constants are chosen on all of them at once:

    .venv/bin/python bench/search_quality.py --save-replay small.json
    .venv/bin/python bench/search_quality.py --distractors 100000 --save-replay large.json
    .venv/bin/python bench/search_quality.py --from-replay small.json large.json --cv 5

Runs on an isolated SQLite database and embedded redis-server under var/ (or a fresh
PostgreSQL database when DATABASE_URL points at one); nothing of the app's data is touched.
"""

import argparse
import hashlib
import itertools
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_CORPUS, DEV_QUERIES, Lab, load_json, wait_indexed  # noqa: E402

MODES = ("hybrid", "semantic", "keyword")
MAX_DEPTH = 200
CONTEXT_WEIGHTS = (1.0, 2.0, 4.0)


def metrics(ranks: list[int | None]) -> dict:
    n = len(ranks) or 1
    return {
        "mrr10": round(sum(1 / r for r in ranks if r and r <= 10) / n, 4),
        "r1": round(sum(1 for r in ranks if r and r <= 1) / n, 4),
        "r5": round(sum(1 for r in ranks if r and r <= 5) / n, 4),
        "r10": round(sum(1 for r in ranks if r and r <= 10) / n, 4),
    }


def normal(title: str) -> str:
    return " ".join(title.split()).casefold()


def rank_of(titles: list[str], expected: str) -> int | None:
    wanted = normal(expected)
    for i, title in enumerate(titles, 1):
        if normal(title) == wanted:
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


# ---------------------------------------------------------------- offline replay and CV


# The grid's ordered knobs: a configuration's neighbours are one step away on one of them.
SEMANTIC_WEIGHTS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
DEPTHS = (20, 50, 100, 200)
RRF_KS = (10, 30, 60)


def candidates():
    """Every configuration tried: (context weight, Fusion)."""
    from search.fusion import Fusion

    for cw, depth, aggregate, weight in itertools.product(CONTEXT_WEIGHTS, DEPTHS, ("best", "top2"), SEMANTIC_WEIGHTS):
        for k in RRF_KS:
            yield cw, Fusion("rrf", weight, k, aggregate, depth)
        for method in ("minmax", "zscore"):
            yield cw, Fusion(method, weight, 60, aggregate, depth)


def neighbours(config) -> list:
    """The configurations one step away from this one on one ordered knob (context weight,
    depth, meaning weight, RRF k), the others kept."""
    from dataclasses import replace

    cw, f = config
    out = []
    for values, current, make in (
        (CONTEXT_WEIGHTS, cw, lambda v: (v, f)),
        (DEPTHS, f.depth, lambda v: (cw, replace(f, depth=v))),
        (SEMANTIC_WEIGHTS, f.semantic_weight, lambda v: (cw, replace(f, semantic_weight=v))),
        *([(RRF_KS, f.rrf_k, lambda v: (cw, replace(f, rrf_k=v)))] if f.method == "rrf" else []),
    ):
        i = values.index(current)
        out += [make(values[j]) for j in (i - 1, i + 1) if 0 <= j < len(values)]
    return out


def complexity(config) -> tuple:
    """Ties are broken towards the simplest, most central configuration."""
    cw, f = config
    return (("rrf", "minmax", "zscore").index(f.method), f.aggregate != "best", abs(f.semantic_weight - 0.5),
            abs(f.rrf_k - 60), abs(f.depth - 50), abs(cw - 2.0))


def describe(config) -> str:
    cw, f = config
    k = f" k={f.rrf_k}" if f.method == "rrf" else ""
    return f"{f.method}{k} meaning={f.semantic_weight:.1f} {f.aggregate} depth={f.depth} context={cw:g}"


def read_rankings(user, queries: list[dict]) -> list[dict]:
    """Per question, each mode's passage ranking as the app reads it (MAX_DEPTH deep)."""
    from search import keyword, services

    return [
        {
            "semantic": services.semantic_passages(user.pk, q["q"], MAX_DEPTH),
            **{("keyword", cw): keyword.search_passages(user.pk, q["q"], MAX_DEPTH, context_weight=cw) for cw in CONTEXT_WEIGHTS},
        }
        for q in queries
    ]


def replay(config, rankings: dict, groups: dict, titles: dict, expected: str, limit: int = 10) -> int | None:
    from search import fusion, services

    cw, f = config
    depth = services.depth(limit, 0, f)
    ordered, _ = fusion.fuse({"keyword": rankings[("keyword", cw)][:depth], "semantic": rankings["semantic"][:depth]}, groups, f)
    return rank_of([titles[group[1]] for group, _ in ordered[:limit]], expected)


def ranked(configs: list, scales: list[dict], questions: list[int]) -> list:
    """The configurations best first. Each is judged by MRR@10 + R@10 (both are goals),
    averaged over the collections the questions were asked of (`scales`: each one's ranks
    per configuration; the 235-note corpus alone, and grown to 100k passages) and over
    itself and its neighbours: a peak its neighbours don't share is the luck of a few
    questions, a plateau is what carries over to new ones. Measured over 15 partitions of
    both dev sets (4, 5 and 10 folds, 5 shuffles each) against choosing by each
    configuration's own score: held-out MRR@10 0.972 against 0.963 on SQLite (never below
    it), 0.956 against 0.954 on PostgreSQL (within a question either way). Averages within
    0.001 are ties, broken towards the simplest."""
    own = {}
    for config in configs:
        scores = [metrics([ranks[config][i] for i in questions]) for ranks in scales]
        own[config] = sum(m["mrr10"] + m["r10"] for m in scores) / len(scores)

    def plateau(config) -> float:
        around = [own[c] for c in (config, *neighbours(config)) if c in own]
        return round(sum(around) / len(around), 3)

    return sorted(configs, key=lambda c: (plateau(c), tuple(-x for x in complexity(c))), reverse=True)


def choose(configs: list, scales: list[dict], questions: list[int]):
    return ranked(configs, scales, questions)[0]


def folds_of(queries: list[dict], k: int) -> list[list[int]]:
    """k folds of question indices, every question about one note in the same fold."""
    notes = sorted({normal(q["expected_title"]) for q in queries}, key=lambda t: hashlib.sha1(t.encode()).hexdigest())
    fold_of = {title: i % k for i, title in enumerate(notes)}
    return [[i for i, q in enumerate(queries) if fold_of[normal(q["expected_title"])] == f] for f in range(k)]


def read_replay_inputs(user, queries: list[dict]) -> dict:
    """What the offline replay needs, as JSON: each question's rankings, passage groups, note titles."""
    from django.db import connection

    from notes.models import Note
    from search.models import Passage

    return {
        "rankings": [{"semantic": r["semantic"], **{f"keyword {cw:g}": r[("keyword", cw)] for cw in CONTEXT_WEIGHTS}}
                     for r in read_rankings(user, queries)],
        "groups": dict(Passage.objects.filter(user=user, kind__in=("note", "snippet")).values_list("pk", "note_id")),
        "titles": dict(Note.objects.for_user(user).values_list("pk", "title")),
        "vendor": connection.vendor,
    }


def replay_ranks(inputs: dict, queries: list[dict], configs: list) -> dict:
    """config -> the expected note's rank for every question, replayed from one collection's rankings."""
    rankings = [
        {"semantic": [tuple(p) for p in r["semantic"]], **{("keyword", cw): [tuple(p) for p in r[f"keyword {cw:g}"]] for cw in CONTEXT_WEIGHTS}}
        for r in inputs["rankings"]
    ]
    groups = {int(pk): ("note", int(note_id)) for pk, note_id in inputs["groups"].items()}
    titles = {int(pk): title for pk, title in inputs["titles"].items()}
    return {c: [replay(c, r, groups, titles, q["expected_title"]) for r, q in zip(rankings, queries)] for c in configs}


def cross_validate(collections: list[dict], queries: list[dict], k: int, log) -> dict:
    """Grouped k-fold CV of the ranking constants over the same questions asked of one or more
    collections (`{"name", "inputs", "single"}` each: replay inputs and each mode's ranks as
    the app answered); each fold's constants are chosen on the other folds of every collection."""
    from django.db import connection

    from search.fusion import CHOSEN, Fusion
    from search.keyword import CONTEXT_WEIGHTS as APP_CONTEXT_WEIGHTS

    vendor = collections[0]["inputs"].get("vendor", connection.vendor)
    app = (APP_CONTEXT_WEIGHTS[vendor], CHOSEN[vendor])
    started = time.monotonic()
    configs = list(candidates())
    scales = [replay_ranks(c["inputs"], queries, configs) for c in collections]
    log(f"replayed {len(configs)} configurations x {len(queries)} questions x {len(scales)} collections "
        f"in {time.monotonic() - started:.0f}s")
    folds = folds_of(queries, k)
    everyone = list(range(len(queries)))
    chosen = []
    for test in folds:
        held = set(test)
        chosen.append(choose(configs, scales, [i for i in everyone if i not in held]))
    final = choose(configs, scales, everyone)
    out = {"configurations": len(configs), "chosen_on_all": describe(final), "app_default": f"{describe(app)} ({vendor})",
           "collections": []}
    for collection, ranks in zip(collections, scales):
        single, held_out = collection["single"], [None] * len(queries)
        rows = []
        for f, (test, config) in enumerate(zip(folds, chosen)):
            for i in test:
                held_out[i] = ranks[config][i]
            rows.append({"fold": f + 1, "questions": len(test), "chosen": describe(config),
                         "hybrid": metrics([ranks[config][i] for i in test]),
                         **{mode: metrics([single[mode][i] for i in test]) for mode in ("semantic", "keyword")},
                         "bm25_floor": metrics([single["bm25_floor"][i] for i in test])})
        out["collections"].append({
            "name": collection["name"], "folds": rows, "held_out_hybrid": metrics(held_out),
            "chosen_on_all_metrics": metrics(ranks[final]),
            "app_default_metrics": metrics(ranks[app]) if app in ranks else None,
            "leaders": [(describe(c), metrics(ranks[c])) for c in ranked(configs, scales, everyone)[:12]],
            # Simple fusions to beat, with the app's context weight.
            "simple": {
                "rrf k=60 0.5/0.5 depth 50": metrics(ranks[(APP_CONTEXT_WEIGHTS[vendor], Fusion("rrf", 0.5, 60, "best", 50))]),
                "minmax meaning=0.3 depth 50 (before)": metrics(ranks[(2.0, Fusion("minmax", 0.3, 60, "best", 50, pin=3))]),
            },
        })
    return out


def replay_only(args, sets: dict) -> int:
    """Cross-validation from rankings kept by --save-replay (one file per collection the same
    questions were asked of): the constants are re-chosen in a minute, without the pipeline."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lablog.settings")
    django.setup()
    collections = []
    for path in args.from_replay:
        kept = json.loads(Path(path).read_text())
        collections.append({"name": Path(path).name, "inputs": kept["inputs"], "single": kept["single"]})
    everything = [q for queries in sets.values() for q in queries]
    cv = cross_validate(collections, everything, args.cv or 5, lambda line: print(line, file=sys.stderr))
    print_cv(cv, args.cv or 5, len(everything))
    if args.json:
        print(json.dumps(cv))
    return 0


def print_cv(cv: dict, folds: int, questions: int) -> None:
    names = ", ".join(c["name"] for c in cv["collections"])
    print(f"\n{folds}-fold cross-validation over {questions} questions asked of {names} "
          f"({cv['configurations']} configurations; folds grouped by expected note)")
    for collection in cv["collections"]:
        print(f"{collection['name']}:")
        for row in collection["folds"]:
            print(f"fold {row['fold']} ({row['questions']} held out), chosen on the others: {row['chosen']}")
            for mode in ("hybrid", "semantic", "keyword", "bm25_floor"):
                print_metrics_row(mode, row[mode])
        print_metrics_row("hybrid, every question held out once", collection["held_out_hybrid"])
        print(f"chosen on all questions: {cv['chosen_on_all']}")
        print_metrics_row("  (in-sample)", collection["chosen_on_all_metrics"])
        print(f"the app's: {cv['app_default']}")
        if collection["app_default_metrics"]:
            print_metrics_row("  (in-sample)", collection["app_default_metrics"])
        for name, m in collection["simple"].items():
            print_metrics_row(name, m)
        print("best configurations on all questions (in-sample):")
        for name, m in collection["leaders"]:
            print_metrics_row(name, m)


def print_metrics_row(name: str, m: dict) -> None:
    print(f"  {name:<40}{m['mrr10']:>8.3f}{m['r1']:>7.2f}{m['r5']:>7.2f}{m['r10']:>7.2f}")


def grow(user, passages: int, corpus: list[dict], log) -> list[dict]:
    """Distractor notes in before the corpus, as if written over the years before it."""
    from distractors import fill

    started = time.monotonic()
    made = fill(user, passages, corpus, Path(__file__).resolve().parent.parent / "var" / "bench-cache")
    log(f"distractors in {time.monotonic() - started:.0f}s")
    return made


def settle(user, log) -> None:
    """What a long-lived collection has: statistics analyzed (PostgreSQL) and an index
    snapshot the searching process loads, as the index worker leaves them."""
    from django.db import connection

    from search import embedding, hnsw
    from search.hnsw import writer

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    started = time.monotonic()
    writer.save(hnsw.UserIndex.from_database(user.pk, embedding.model_name()))
    hnsw.forget()
    hnsw.get_index(user.pk)
    log(f"index built and loaded in {time.monotonic() - started:.0f}s")


def answered(user, queries: list[dict], mode: str) -> tuple[list[int | None], dict]:
    """Each question's rank of its note as the app answers in `mode`, and the figures over
    them (with the p50 time)."""
    from search import services

    ranks, times = [], []
    for q in queries:
        page = services.search(user, q["q"], mode=mode, limit=10, filters=services.SearchFilters(kinds=("note", "snippet")))
        times.append(page.took_ms)
        ranks.append(rank_of([h.title for h in page.hits], q["expected_title"]))
    return ranks, metrics(ranks) | {"ms_p50": round(sorted(times)[len(times) // 2], 1)}


def budget_figures(user, sets: dict, budgets: list[int]) -> dict:
    """Hybrid and keyword figures over every question with each row budget: what a smaller
    budget (fewer rows ranked, so less time) costs in quality at this collection's size."""
    from django.test import override_settings

    everything = [q for queries in sets.values() for q in queries]
    figures = {}
    for budget in budgets:
        with override_settings(SEARCH_KEYWORD_ROW_BUDGET=budget):
            figures[budget] = {mode: answered(user, everything, mode)[1] for mode in ("hybrid", "keyword")}
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--queries", nargs="+", default=[str(p) for p in DEV_QUERIES], help="one or more question files")
    parser.add_argument("--cv", type=int, default=0, metavar="FOLDS", help="choose the ranking constants by k-fold CV")
    parser.add_argument("--save-replay", metavar="FILE", help="keep the rankings read for the replay (JSON)")
    parser.add_argument("--from-replay", nargs="+", metavar="FILE",
                        help="cross-validate from kept rankings, without the pipeline; several files: the same "
                             "questions asked of several collections (e.g. with and without --distractors), "
                             "constants chosen on all of them")
    parser.add_argument("--distractors", type=int, default=0, metavar="N",
                        help="first grow the collection by N passages of unrelated real text")
    parser.add_argument("--budgets", type=int, nargs="+", metavar="ROWS",
                        help="also answer hybrid and keyword with each of these SEARCH_KEYWORD_ROW_BUDGET values "
                             "(the cost/quality trade of the row budget, on one collection)")
    parser.add_argument("--json", action="store_true", help="last line: the figures as JSON")
    args = parser.parse_args()
    corpus = load_json(args.corpus)
    sets = {Path(path).name: load_json(path) for path in args.queries}
    if args.from_replay:
        return replay_only(args, sets)

    def log(line):
        print(line, file=sys.stderr, flush=True)

    with Lab("quality") as lab:
        from django.contrib.auth import get_user_model

        from notes.models import Note

        user = get_user_model().objects.create_user("bench", password="bench-quality-pw")
        floor_notes = list(corpus)
        if args.distractors:
            floor_notes += grow(user, args.distractors, corpus, log)
        lab.worker()
        started = time.monotonic()
        for item in corpus:
            Note.objects.create_note(user, title=item.get("title", ""), body=item.get("body", ""))
        saved = time.monotonic() - started
        waited = wait_indexed(user, quiet=args.json)
        log(f"corpus: {len(corpus)} notes saved in {saved:.1f}s, all embedded {waited:.1f}s later")
        if args.distractors:
            settle(user, log)

        results: dict = {"sets": {}}
        all_ranks: dict[str, list] = {mode: [] for mode in (*MODES, "bm25_floor")}
        for name, queries in sets.items():
            figures = {}
            for mode in MODES:
                ranks, figures[mode] = answered(user, queries, mode)
                all_ranks[mode] += ranks
            floor = whole_note_bm25(floor_notes, queries)
            figures["bm25_floor"] = metrics(floor)
            all_ranks["bm25_floor"] += floor
            results["sets"][name] = figures
        if args.budgets:
            results["budgets"] = budget_figures(user, sets, args.budgets)
        everything = [q for queries in sets.values() for q in queries]
        if args.cv or args.save_replay:
            inputs = read_replay_inputs(user, everything)
            if args.save_replay:
                Path(args.save_replay).write_text(json.dumps({"inputs": inputs, "single": all_ranks}))
    if args.cv:
        results["cv"] = cross_validate([{"name": "this run", "inputs": inputs, "single": all_ranks}], everything, args.cv, log)

    extra = f" among {args.distractors} distractor passages" if args.distractors else ""
    print(f"{len(corpus)} notes{extra}; modes as the app answers (MRR@10, R@1, R@5, R@10)")
    for name, figures in results["sets"].items():
        print(f"{name} ({len(sets[name])} questions)")
        for mode, m in figures.items():
            print_metrics_row(mode, m)
    for budget, figures in results.get("budgets", {}).items():
        print(f"SEARCH_KEYWORD_ROW_BUDGET={budget}, both sets")
        for mode, m in figures.items():
            print_metrics_row(mode, m)
    if args.cv:
        print_cv(results["cv"], args.cv, sum(map(len, sets.values())))
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
