#!/usr/bin/env python
"""Results-page throughput of the same lab under several server settings, side by side.

Fills USERS users with PASSAGES passages each (as bench/lab_scale.py does), starts one
production-command gunicorn (3 sync workers) per variant, each with its own environment
on top of the lab's, warms every one the same way and lets the Celery workers settle
(lab_scale.settle_workers), then measures them in turn, ROUNDS times, so that the
machine's drift over the run falls on every variant alike: compare variants within a
round, as ratios.

    .venv/bin/python bench/throughput_variants.py --variant base: --variant cache256:SQLITE_CACHE_MB=256 \\
        [--users 21] [--passages 20000] [--rounds 3] [--seconds 12] [--clients 16] [--edits] [--json]

A variant is NAME:KEY=VALUE,KEY=VALUE (empty after the colon: the lab's own settings).
GUNICORN_CMD_ARGS in a variant adds gunicorn options (a --config file with server hooks);
SEARCH_INDEX_SOCKET=searchd has its processes ask one `manage.py searchd` for the indexes, as
`make run` and a lab's server do, instead of each holding every index.
CODE=DIR serves that variant from another version of the code (a `git archive` tree; this
checkout's `.venv` runs it and its models serve it) on the same data, so that versions are
compared in one fill and in alternating rounds; the versions must share their migrations.
"""

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_CORPUS, DEFAULT_QUERIES, ROOT, Lab, load_json  # noqa: E402
from lab_scale import (  # noqa: E402
    Gunicorn,
    Searchd,
    _embed_once,
    edits_going_on,
    load,
    procfile_workers,
    session_cookie,
    settle_workers,
)
from search_latency import fill  # noqa: E402


def variant(text: str) -> tuple[str, dict[str, str]]:
    name, colon, settings = text.partition(":")
    if not name or not colon:
        raise argparse.ArgumentTypeError(f"{text!r}: a variant is NAME:KEY=VALUE,...")
    env = {}
    for pair in filter(None, settings.split(",")):
        key, sep, value = pair.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"{pair!r} in {text!r}: expected KEY=VALUE")
        env[key] = value
    return name, env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", type=variant, action="append", required=True)
    parser.add_argument("--users", type=int, default=21)
    parser.add_argument("--passages", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--edits", action="store_true", help="one note edit a second during every timed run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    variants = dict(args.variant)
    corpus, questions = load_json(DEFAULT_CORPUS), load_json(DEFAULT_QUERIES)
    queries = [q["q"] for q in questions] + [n["title"] for n in corpus]
    rng = np.random.default_rng(7)
    out = {"users": args.users, "passages_each": args.passages, "rounds": []}
    with Lab("throughput-variants") as lab:
        from django.contrib.auth import get_user_model
        from django.db import connection

        import search.embedding
        from search import hnsw

        out["database"] = connection.vendor
        users = [get_user_model().objects.create_user(f"member{k}", password="bench-lab-pw") for k in range(args.users)]
        search.embedding.embed = _embed_once(search.embedding.embed)  # every user has the same texts
        for user in users:
            fill(user, corpus, args.passages, rng)
            hnsw.write_snapshot(user.pk)
        cookies = [session_cookie(u) for u in users]
        procfile_workers(lab)
        servers, daemons = {}, []
        try:
            for name, env in variants.items():
                if env.get("SEARCH_INDEX_SOCKET") == "searchd":
                    daemons = daemons or [Searchd(lab)]
                    env = {**env, "SEARCH_INDEX_SOCKET": daemons[0].socket}
                code = Path(env.get("CODE", ROOT)).resolve()
                servers[name] = Gunicorn(lab, env={k: v for k, v in env.items() if k != "CODE"}, code=code)
                for cookie in cookies:  # every process loads every user's index
                    for _ in range(3):
                        servers[name].get("/search/?" + urlencode({"q": queries[0], "mode": "hybrid"}), {"Cookie": cookie})
            for server in servers.values():  # untimed: each process embeds the questions once
                load(server, cookies, queries, args.clients, args.seconds)
            settle_workers(users[0], corpus)
            for k in range(args.rounds):
                figures = {}
                for name, server in servers.items():
                    with edits_going_on(users[0], corpus) if args.edits else contextlib.nullcontext():
                        figures[name] = load(server, cookies, queries, args.clients, args.seconds)
                    figures[name]["rss_mb"] = round(server.rss_mb())
                    print(f"round {k}  {name:>12}: {figures[name]['searches_per_s']:6.1f}/s  p99 {figures[name]['p99_ms']} ms  "
                          f"errors {figures[name]['errors']}  CPU a request {figures[name]['cpu_ms_per_request']}  "
                          f"RSS {figures[name]['rss_mb']} MB", flush=True)
                out["rounds"].append(figures)
        finally:
            for server in [*servers.values(), *daemons]:
                server.stop()
    first = next(iter(variants))
    for name in variants:
        ratios = [r[name]["searches_per_s"] / r[first]["searches_per_s"] for r in out["rounds"]]
        print(f"{name:>12} / {first}: searches/s x{', x'.join(f'{x:.2f}' for x in ratios)}")
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"took {time.perf_counter() - started:.0f} s", file=sys.stderr)
    sys.exit(code)
