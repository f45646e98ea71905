#!/usr/bin/env python
"""Search latency at 100,000 passages, HNSW recall, index build cost, save-to-findable.

Fills one user's collection with 20,000 notes of 5 passages each, whose vectors look like
real ones: the corpus's real passage vectors (embedded by the model) mixed pairwise and
perturbed (cosine ~0.9 to their source), with the source passage's text for keyword search.
Then reports, on this machine:
  - index build time and resident memory from the database, snapshot size;
  - HNSW recall@10 against exact brute force over all vectors (real and perturbed queries);
  - warm HTTP search latency p50/p99 through gunicorn (hybrid, query embedding included, each
    question ranked: rankings are not kept for asking again);
  - save-to-findable-by-meaning p50/p95 for one edited note with one worker running.

    .venv/bin/python bench/search_latency.py [--passages 100000] [--requests 200] [--edits 20] [--json]
"""

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_CORPUS, DEFAULT_QUERIES, ROOT, Lab, load_json  # noqa: E402

PER_NOTE = 5


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def pct(values, p):
    return round(float(np.percentile(values, p)), 1)


def fill(user, corpus, total, rng):
    """Notes and passages (text + perturbed real vectors) straight into the database."""
    from notes.models import Note
    from search import keyword_index, keyword_terms
    from search.embedding import embed, model_name
    from search.models import Passage, UserIndexState
    from search.passages import split

    real = [(n["title"], p) for n in corpus for p in split(n["title"], n["body"])]
    base = embed([p.embedding_text() for _, p in real])
    terms = keyword_terms.to_store([(title, p.text) for title, p in real])  # the token counts saving keeps (SQLite)
    n_notes = total // PER_NOTE
    notes = Note.objects.bulk_create(
        [Note(user=user, title=f"{real[i % len(real)][0][:250]} #{i}", body="") for i in range(n_notes)], batch_size=2000
    )
    noise = 0.025  # per dimension: cosine ~0.9 to the mixed source
    rows = []
    model = model_name()
    # As indexing does once a user has vectors: record the model their searches use.
    UserIndexState.objects.update_or_create(user=user, defaults={"seq": 1, "active_model": model})
    for k in range(n_notes * PER_NOTE):
        i, j = rng.integers(len(real)), rng.integers(len(real))
        v = 0.85 * base[i] + 0.15 * base[j] + rng.normal(0, noise, 384)
        v = (v / np.linalg.norm(v)).astype(np.float32)
        title, piece = real[i]
        rows.append(Passage(
            user=user, kind="note", note=notes[k // PER_NOTE], start=-1, end=-1, context=title, text=piece.text,
            content_hash=f"bench-{k}", terms=terms[i], vector=v.tobytes(), model=model, seq=1,
        ))
        if len(rows) == 5000:
            Passage.objects.bulk_create(rows)
            rows = []
            print(f"\r  filled {k + 1}/{total}", end="", file=sys.stderr, flush=True)
    if rows:
        Passage.objects.bulk_create(rows)
    # The user's keyword index, as indexing makes it before a user's first passage (built from
    # the rows at once here): else the first search builds it, and a restart's is timed wrong.
    keyword_index.ensure(user.pk)
    print(file=sys.stderr)
    return base


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_latency(lab, user, queries, n_requests):
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    port = free_port()
    log = open(lab.var / "gunicorn.log", "wb")
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "lablog.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--threads", "2", "--timeout", "300"],
        # Each search ranks (the questions come round again): the latency of a question
        # asked again with nothing changed is bench/lab_scale.py's.
        cwd=ROOT, env=lab.env | {"SEARCH_RANKINGS_KEPT": "0"}, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        headers = {"Cookie": f"sessionid={session.session_key}", "HX-Request": "true", "HX-Target": "search-dropdown"}
        deadline = time.monotonic() + 120
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

        def get(q):
            conn.request("GET", "/search/?" + urlencode({"q": q, "mode": "hybrid"}), headers=headers)
            response = conn.getresponse()
            body = response.read()
            assert response.status == 200, (response.status, body[:300])
            return body

        for q in queries[:10]:  # warm: model, index (snapshot) and connections
            get(q)
        times = []
        for k in range(n_requests):
            started = time.perf_counter()
            get(queries[k % len(queries)])
            times.append((time.perf_counter() - started) * 1000)
        return times
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def save_to_findable(lab, user, corpus, n_edits):
    from notes.models import Note
    from search import hnsw
    from search.models import Passage

    lab.worker(queues="embed")
    notes = list(Note.objects.filter(user=user).order_by("pk")[: n_edits + 1])
    index = hnsw.get_index(user.pk)
    times = []
    for k, note in enumerate(notes):
        body = corpus[(k * 13) % len(corpus)]["body"][:600] + f"\n\nEdit {k}."
        before = set(Passage.objects.filter(note=note).values_list("pk", flat=True))
        started = time.perf_counter()
        note.apply_edit(base_version=note.version, title=note.title, body=body)  # commits, enqueues
        while True:
            index = hnsw.get_index(user.pk)  # what every search does first
            new = set(Passage.objects.filter(note=note).exclude(vector=None).values_list("pk", flat=True)) - before
            if new and new <= index.live:
                break
            if time.perf_counter() - started > 60:
                raise TimeoutError("edit not findable within 60s")
            time.sleep(0.005)
        if k:  # the first edit warms the worker (model load)
            times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--queries", default=str(DEFAULT_QUERIES))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    corpus, questions = load_json(args.corpus), load_json(args.queries)
    rng = np.random.default_rng(7)
    out = {"passages": args.passages}
    with Lab("latency") as lab:
        from django.conf import settings
        from django.contrib.auth import get_user_model

        from search import embedding, hnsw
        from search.embedding import embed
        from search.models import Passage

        user = get_user_model().objects.create_user("bench", password="bench-latency-pw")
        started = time.perf_counter()
        base = fill(user, corpus, args.passages, rng)
        out["fill_s"] = round(time.perf_counter() - started, 1)
        from django.db import connection

        if connection.vendor == "postgresql":  # a collection grown over months is vacuumed and analyzed
            # (every table: with notes_note unanalyzed, reading the candidates took 3x the time)
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")

        rss = rss_mb()
        started = time.perf_counter()
        from search.hnsw import writer as hnsw_writer

        index = hnsw.UserIndex.from_database(user.pk, embedding.model_name())
        out["build_s"] = round(time.perf_counter() - started, 1)
        out["build_rss_mb"] = round(rss_mb() - rss, 1)
        started = time.perf_counter()
        path = hnsw_writer.save(index)
        out["snapshot_write_s"] = round(time.perf_counter() - started, 2)
        out["snapshot_mb"] = round(path.stat().st_size / 2**20, 1)
        hnsw.forget()
        started = time.perf_counter()
        hnsw.get_index(user.pk)
        out["snapshot_load_s"] = round(time.perf_counter() - started, 2)
        index = hnsw.get_index(user.pk)

        # Recall@10 against exact search over every vector.
        ids, blobs = zip(*Passage.objects.filter(user=user).exclude(vector=None).values_list("pk", "vector"))
        ids = np.asarray(ids)
        matrix = np.frombuffer(b"".join(bytes(b) for b in blobs), dtype=np.float32).reshape(len(ids), 384)
        qv = embed([q["q"] for q in questions] + [n["title"] for n in corpus[:80]])
        perturbed = base[rng.integers(len(base), size=100)] + rng.normal(0, 0.03, (100, 384))
        qv = np.vstack([qv, perturbed / np.linalg.norm(perturbed, axis=1, keepdims=True)]).astype(np.float32)
        hits, times = 0, []
        for v in qv:
            exact = set(ids[np.argsort(-(matrix @ v))[:10]])
            started = time.perf_counter()
            found = {pk for pk, _ in index.query(v, 10)}
            times.append((time.perf_counter() - started) * 1000)
            hits += len(exact & found)
        out["recall10"] = round(hits / (10 * len(qv)), 4)
        out["hnsw_query_ms_p50"] = pct(times, 50)
        out["hnsw"] = {"M": settings.SEARCH_HNSW_M, "ef_construction": settings.SEARCH_HNSW_EF_CONSTRUCTION, "ef": settings.SEARCH_HNSW_EF}
        print(f"  recall@10 {out['recall10']}", file=sys.stderr)

        queries = [q["q"] for q in questions] + [n["title"] for n in corpus]
        times = http_latency(lab, user, queries, args.requests)
        out["http_p50_ms"], out["http_p99_ms"] = pct(times, 50), pct(times, 99)
        print(f"  HTTP p50 {out['http_p50_ms']} ms, p99 {out['http_p99_ms']} ms", file=sys.stderr)

        if args.edits:
            times = save_to_findable(lab, user, corpus, args.edits)
            out["findable_p50_ms"], out["findable_p95_ms"] = pct(times, 50), pct(times, 95)
    out["load_avg_1m"] = round(os.getloadavg()[0], 2)
    for key, value in out.items():
        print(f"{key:>20}: {value}")
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
