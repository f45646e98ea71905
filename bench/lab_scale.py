#!/usr/bin/env python
"""A lab on one server: several users with realistic vectors, one with a large collection.

Fills USERS users with PASSAGES passages each and one user with BIG passages (vectors as in
bench/search_latency.py: real corpus vectors mixed and perturbed, with real text), writes
their snapshots as the index writer does, then measures on this machine:

  - restart: the big user's first search after a restart (snapshot load + catch-up + the
    search), and the answer when no snapshot is usable (by words, "warming up");
  - throughput: the full results page (GET /search/?q=..., hybrid) from CLIENTS concurrent
    clients against gunicorn with 3 sync workers (the production command), one note edit a
    second going on through real workers, warm and settled first (settle_workers); quiet and
    with edits alternately REPEATS times, each figure the median run; the dev questions come
    round again, so what each process keeps of a question counts, then questions never
    asked before, each once; searches/s, p50/p99, errors; CPU ms a request of gunicorn, of
    the clients (this process), and of the rest, with PostgreSQL's, Redis's and the Celery
    workers' share of it;
  - memory: total RSS of the gunicorn processes once every process has served every user,
    against the size of one copy of every index (with and without a memory budget);
  - searchd: the same with searchd holding the indexes (`manage.py searchd`, web processes
    asking it over SEARCH_INDEX_SOCKET): total RSS of gunicorn + searchd against one copy
    (and PSS, each page shared between processes counted once), and what the socket hop adds to a search (index lookup + query alone, and the whole
    hybrid search), in-process and through searchd alternately in one run;
  - findable: save -> findable by meaning p50/p95 while the index worker rewrites the big
    user's snapshot (compaction) and reconciles;
  - bulk: the same, an edit a second, while another user's requested re-index and a third
    user's web import of the research log run (the Procfile's two workers);
  - profile: where the CPU of one results page goes (cProfile, in-process, top functions);
  - savers: SAVERS processes (one user each) saving notes at once for a few seconds on
    SQLite: saves/s and "database is locked" errors.

    .venv/bin/python bench/lab_scale.py [--users 4] [--passages 5000] [--big 100000] [--clients 16]
        [--seconds 20] [--repeats 3] [--savers 20]
        [--only restart,throughput,memory,searchd,findable,bulk,profile,savers]
"""

import argparse
import contextlib
import cProfile
import http.client
import io
import itertools
import json
import multiprocessing
import os
import pstats
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_CORPUS, DEFAULT_QUERIES, ROOT, Lab, load_json  # noqa: E402
from search_latency import fill, free_port, pct  # noqa: E402

SECTIONS = ("restart", "throughput", "memory", "searchd", "findable", "bulk", "profile", "savers")


def session_cookie(user) -> str:
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    return f"sessionid={session.session_key}"


class Gunicorn:
    """The production command: 3 sync workers."""

    def __init__(self, lab, workers=3, env=None, code=ROOT):
        self.port = free_port()
        self.log = open(lab.var / f"gunicorn-{self.port}.log", "wb")
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "lablog.wsgi", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--timeout", "120"],
            cwd=code, env={**lab.env, **(env or {})}, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                self.get("/healthz", {})
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def get(self, path, headers, conn=None):
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        return response.status, body

    def _processes(self):
        import psutil

        parent = psutil.Process(self.proc.pid)
        return [parent, *parent.children(recursive=True)]

    def rss_mb(self) -> float:
        return sum(p.memory_info().rss for p in self._processes()) / 2**20

    def pss_mb(self) -> float:
        """Memory with each shared page counted once over all processes (RSS counts the pages
        the forked workers share in every one of them)."""
        return sum(p.memory_full_info().pss for p in self._processes()) / 2**20

    def cpu_s(self) -> float:
        """CPU seconds of the master and its workers so far."""
        return sum(sum(p.cpu_times()[:2]) for p in self._processes())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


class Searchd:
    """`manage.py searchd` on the lab's database and index files."""

    def __init__(self, lab):
        self.socket = str(lab.var / "searchd.sock")
        self.log = open(lab.var / "searchd.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "searchd"], cwd=ROOT, env={**lab.env, "SEARCH_INDEX_SOCKET": self.socket},
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"searchd did not start; see {self.log.name}")
            time.sleep(0.1)

    def rss_mb(self) -> float:
        import psutil

        return psutil.Process(self.proc.pid).memory_info().rss / 2**20

    def pss_mb(self) -> float:
        import psutil

        return psutil.Process(self.proc.pid).memory_full_info().pss / 2**20

    def cpu_times(self):
        import psutil

        return psutil.Process(self.proc.pid).cpu_times()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def new_questions(corpus) -> list[str]:
    """Question-like sentences of the corpus (5-15 words), each once: never asked before."""
    sentences = dict.fromkeys(
        " ".join(sentence.split()) for note in corpus for sentence in re.split(r"[.?!\n]", note["body"])
        if 5 <= len(sentence.split()) <= 15
    )
    return list(sentences)


def load(server, cookies, queries, clients, seconds, once=False):
    """CLIENTS threads, each with its own connection, round-robin over users and queries
    (each query asked at most once with `once`, stopping early when they run out)."""
    times, errors = [], []
    deadline = time.monotonic() + seconds

    def client(k):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        i = k
        while time.monotonic() < deadline and not (once and i >= len(queries)):
            cookie = cookies[i % len(cookies)]
            query = queries[i] if once else queries[(i * 7) % len(queries)]
            path = "/search/?" + urlencode({"q": query, "mode": "hybrid"})
            started = time.perf_counter()
            try:
                status, _ = server.get(path, {"Cookie": cookie}, conn)
                if status != 200:
                    errors.append(status)
            except Exception as exc:  # counted, and the client reconnects
                errors.append(type(exc).__name__)
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
            times.append((time.perf_counter() - started) * 1000)
            i += clients

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    began, server_cpu, own_cpu, machine_cpu = time.perf_counter(), server.cpu_s(), time.process_time(), _machine_cpu_s()
    others_cpu = _others_cpu_s()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - began
    # Where the cores went, per request: gunicorn's processes, this process (the clients,
    # and the editor thread when edits run), and everything else (workers, Redis, the kernel).
    n = max(len(times), 1)
    server_ms = (server.cpu_s() - server_cpu) / n * 1000
    own_ms = (time.process_time() - own_cpu) / n * 1000
    machine_ms = (_machine_cpu_s() - machine_cpu) / n * 1000
    others_after = _others_cpu_s()
    of_rest = {group: 0.0 for group in OTHERS}
    for pid, (group, spent) in others_after.items():
        of_rest[group] += spent - others_cpu.get(pid, (group, 0.0))[1]
    for pid, (group, spent) in others_cpu.items():
        if pid not in others_after:  # its parent's children's time took all of it, this run's part only counts
            of_rest[group] -= spent
    of_rest = {group: round(spent / n * 1000, 1) for group, spent in of_rest.items()}
    return {
        "searches_per_s": round(len(times) / took, 1), "p50_ms": pct(times, 50), "p99_ms": pct(times, 99),
        "errors": len(errors), "requests": len(times),
        "cpu_ms_per_request": {"gunicorn": round(server_ms, 1), "clients": round(own_ms, 1),
                               "rest": round(machine_ms - server_ms - own_ms, 1), "of_rest": of_rest},
    }


OTHERS = ("postgresql", "redis", "celery workers")


def _others_cpu_s() -> dict[int, tuple[str, float]]:
    """pid -> (group, CPU seconds so far) of the database server's, Redis's and the Celery
    workers' processes running now, each with its ended children's: a process that ends during
    a run (a database connection closed after DB_CONN_MAX_AGE) leaves its time to its parent
    (PostgreSQL's postmaster, a Celery pool's main process)."""
    import psutil

    found = {}
    for proc in psutil.process_iter(["name", "cmdline", "cpu_times"]):
        name, cmdline, spent = proc.info["name"] or "", " ".join(proc.info["cmdline"] or ()), proc.info["cpu_times"]
        group = ("postgresql" if name.startswith("postgres") else "redis" if name.startswith("redis-server")
                 else "celery workers" if "celery" in cmdline else None)
        if group and spent:
            found[proc.pid] = (group, spent.user + spent.system + spent.children_user + spent.children_system)
    return found


def _machine_cpu_s() -> float:
    import psutil

    times = psutil.cpu_times()
    return times.user + times.system + getattr(times, "softirq", 0) + getattr(times, "irq", 0)


def editor(user, corpus, stop: threading.Event, every=1.0):
    """One edit a second (a note of `user`), committed and enqueued as a save is."""
    from django.db import connection

    from notes.models import Note

    notes = list(Note.objects.filter(user=user).order_by("pk")[:50])
    k = 0
    while not stop.wait(every):
        note = Note.objects.get(pk=notes[k % len(notes)].pk)
        # Numbered across calls (EDIT_NUMBERS): a second run of edits must still change the notes;
        # repeating an earlier run's texts made no new passages, so nothing for the workers to do.
        body = corpus[k % len(corpus)]["body"][:600] + f"\n\nEdit {next(EDIT_NUMBERS)}."
        note.apply_edit(base_version=note.version, title=note.title, body=body)
        k += 1
    connection.close()
    return k


@contextlib.contextmanager
def edits_going_on(user, corpus):
    """editor() in a thread for the duration of the block."""
    stop = threading.Event()
    edits = threading.Thread(target=editor, args=(user, corpus, stop))
    edits.start()
    try:
        yield
    finally:
        stop.set()
        edits.join()


def _embed_once(embed):
    cache = {}

    def cached(texts, **kwargs):
        key = (tuple(texts), tuple(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = embed(texts, **kwargs)
        return cache[key]

    return cached


def section_restart(out, lab, big, cookie):
    from search import embedding, hnsw, services
    from search.hnsw import files

    embedding.embed_query("the query model is loaded before a restart is timed", embedding.model_name())
    hnsw.forget()
    started = time.perf_counter()
    hnsw.get_index(big.pk)
    out["restart_index_load_s"] = round(time.perf_counter() - started, 3)
    hnsw.forget()
    started = time.perf_counter()
    page = services.search(big, "diffusion models for image generation", mode="hybrid")
    out["restart_first_search_s"] = round(time.perf_counter() - started, 3)
    assert page.hits
    manifest = files.manifest_path(big.pk, embedding.model_name())
    saved = manifest.read_text()
    manifest.unlink()
    hnsw.forget()
    started = time.perf_counter()
    page = services.search(big, "diffusion models for image generation", mode="hybrid")
    out["no_snapshot_first_search_s"] = round(time.perf_counter() - started, 3)
    out["no_snapshot_warming_up"] = hnsw.warming_up(big.pk)
    manifest.write_text(saved)
    hnsw.forget()
    # As a user meets it: a web process just started (one, so this request is its first search:
    # index load, query model load, the page).
    server = Gunicorn(lab, workers=1)
    try:
        started = time.perf_counter()
        status, _ = server.get("/search/?" + urlencode({"q": "diffusion models for image generation"}), {"Cookie": cookie})
        assert status == 200
        out["restart_first_search_http_s"] = round(time.perf_counter() - started, 3)
    finally:
        server.stop()


def section_throughput(out, lab, users, cookies, queries, corpus, clients, seconds, repeats):
    procfile_workers(lab)
    settle_workers(users[0], corpus)
    server = Gunicorn(lab)
    try:
        for cookie in cookies:  # every process loads every user's index (so memory is comparable)
            for _ in range(6):
                server.get("/search/?" + urlencode({"q": queries[0], "mode": "hybrid"}), {"Cookie": cookie})
        # Untimed: each process embeds each question once (its vectors are kept), so the two
        # timed runs that follow see the same warm processes.
        load(server, cookies, queries, clients, seconds)
        # Quiet and with edits alternately, REPEATS times, each figure the median run: this VM's
        # speed moves by a third within minutes, and one run of each fell where it fell.
        runs = {"quiet": [], "with_edits": []}
        for _ in range(repeats):
            runs["quiet"].append(load(server, cookies, queries, clients, seconds))
            with edits_going_on(users[0], corpus):
                runs["with_edits"].append(load(server, cookies, queries, clients, seconds))
        for name, figures in runs.items():
            rates = [f["searches_per_s"] for f in figures]
            out[f"throughput_{name}"] = {**sorted(figures, key=lambda f: f["searches_per_s"])[len(figures) // 2],
                                         "searches_per_s_runs": rates}
        out["throughput_single_client"] = load(server, cookies[:1], queries, 1, seconds / 2)
        # Last, as it pushes the questions' vectors out of the processes' caches: every question
        # asked once, so each request embeds its question, as typing a new one does.
        with edits_going_on(users[0], corpus):
            out["throughput_new_questions_with_edits"] = load(
                server, cookies, new_questions(corpus), clients, seconds, once=True)
        out["rss_gunicorn_3_workers_mb"] = round(server.rss_mb(), 1)
    finally:
        server.stop()


def section_memory(out, lab, everyone, cookies, queries):
    from search import hnsw

    one_copy = 0
    for user in everyone:
        one_copy += hnsw.get_index(user.pk).nbytes()
    out["one_copy_of_every_index_mb"] = round(one_copy / 2**20, 1)
    # The budget: room for the small users' indexes, not the big one's (which is served
    # first, so with a budget it is the one evicted).
    small = sum(hnsw.get_index(user.pk).nbytes() for user in everyone[:-1])
    for budget in ("0", str(max(16, int(small * 1.2 / 2**20)))):
        server = Gunicorn(lab, env={"SEARCH_INDEX_MEMORY_MB": budget})
        try:
            idle = server.rss_mb()
            warm_every_process(server, cookies, queries[1])
            out[f"rss_3_workers_budget_{budget}mb"] = {"idle_mb": round(idle, 1), "after_every_user_mb": round(server.rss_mb(), 1)}
        finally:
            server.stop()


def warm_every_process(server, cookies, query):
    """Each user's search, six times (reaches each of the 3 processes)."""
    for cookie in [cookies[-1], *cookies[:-1]] * 2:
        for _ in range(6):
            server.get("/search/?" + urlencode({"q": query, "mode": "hybrid"}), {"Cookie": cookie})


def section_searchd(out, lab, everyone, cookies, queries, rounds=300):
    from django.conf import settings

    from search import embedding, hnsw, services

    one_copy = sum(hnsw.get_index(user.pk).nbytes() for user in everyone)
    hnsw.forget()
    settings.SEARCH_RANKINGS_KEPT = 0  # each search below is asked twice, in-process and through searchd
    result = {"one_copy_of_every_index_mb": round(one_copy / 2**20, 1)}
    server = Gunicorn(lab)
    try:
        idle = server.rss_mb()
        warm_every_process(server, cookies, queries[1])
        result["without_searchd"] = {"gunicorn_idle_mb": round(idle, 1), "gunicorn_after_every_user_mb": round(server.rss_mb(), 1),
                                     "gunicorn_after_every_user_pss_mb": round(server.pss_mb(), 1)}
    finally:
        server.stop()
    daemon = Searchd(lab)
    try:
        server = Gunicorn(lab, env={"SEARCH_INDEX_SOCKET": daemon.socket})
        try:
            idle = {"gunicorn_idle_mb": round(server.rss_mb(), 1), "searchd_idle_mb": round(daemon.rss_mb(), 1)}
            warm_every_process(server, cookies, queries[1])
            after = {"gunicorn_after_every_user_mb": round(server.rss_mb(), 1), "searchd_after_every_user_mb": round(daemon.rss_mb(), 1)}
            after["total_mb"] = round(after["gunicorn_after_every_user_mb"] + after["searchd_after_every_user_mb"], 1)
            after["total_pss_mb"] = round(server.pss_mb() + daemon.pss_mb(), 1)
            result["with_searchd"] = {**idle, **after}
        finally:
            server.stop()

        # The socket hop, in this process: in-process index and searchd's alternately, so the
        # machine's other load weighs on both alike.
        vectors = {q: embedding.embed_query(q, embedding.model_name()) for q in queries[:50]}
        for user in everyone:  # both registries hold every index before timing
            for socket in ("", daemon.socket):
                settings.SEARCH_INDEX_SOCKET = socket
                hnsw.get_index(user.pk)
        times = {("index", ""): [], ("index", daemon.socket): [], ("search", ""): [], ("search", daemon.socket): []}
        cpu = {"": 0.0, daemon.socket: 0.0}  # this process's CPU seconds, all threads
        daemon_cpu = sum(daemon.cpu_times()[:2])
        for k in range(rounds):
            user, query = everyone[k % len(everyone)], queries[k % 50]
            for socket in (("", daemon.socket) if k % 2 else (daemon.socket, "")):
                settings.SEARCH_INDEX_SOCKET = socket
                cpu_started = time.process_time()
                started = time.perf_counter()
                hnsw.get_index(user.pk).query(vectors[query], 10)
                times[("index", socket)].append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                services.search(user, query, mode="hybrid")
                times[("search", socket)].append((time.perf_counter() - started) * 1000)
                cpu[socket] += time.process_time() - cpu_started
        settings.SEARCH_INDEX_SOCKET = ""
        # CPU does not count waiting for a core: the cost of the hop on a quiet machine.
        result["cpu_ms_per_index_lookup_and_search"] = {
            "in_process": round(cpu[""] * 1000 / rounds, 2),
            "through_searchd_here": round(cpu[daemon.socket] * 1000 / rounds, 2),
            "through_searchd_in_searchd": round((sum(daemon.cpu_times()[:2]) - daemon_cpu) * 1000 / rounds, 2),
        }
        for what in ("index", "search"):
            here, there = times[(what, "")], times[(what, daemon.socket)]
            (l50, l99), (h50, h99) = np.percentile(here, (50, 99)).tolist(), np.percentile(there, (50, 99)).tolist()
            result[f"{what}_latency_ms"] = {
                "in_process": {"p50": round(l50, 3), "p99": round(l99, 3)},
                "searchd": {"p50": round(h50, 3), "p99": round(h99, 3)},
                "p50_ratio": round(h50 / l50, 2), "p99_ratio": round(h99 / l99, 2), "rounds": rounds,
            }
    finally:
        daemon.stop()
    hnsw.forget()
    out["searchd"] = result


def procfile_workers(lab):
    """The Procfile's workers (saves' embedding on one, index work and imports on the other), once."""
    if not lab.workers:
        lab.worker(queues="embed")
        lab.worker(queues="index,default")


def settle_workers(user, corpus, quiet_s=3, within_s=180):
    """Warm the workers as a running lab's are (an edit of `user` embedded and indexed: the
    embed worker's model, the index worker's copy of the user's index), then wait until they
    have been idle for QUIET_S seconds: what they still had to do must not be timed as the
    edits' cost (it made whichever run came first after a fill 10-20 % slower)."""
    from notes.models import Note

    note = Note.objects.filter(user=user).order_by("-pk").first()
    note.apply_edit(base_version=note.version, title=note.title, body=corpus[0]["body"][:600] + f"\n\nEdit {next(EDIT_NUMBERS)}.")
    deadline, idle_since = time.monotonic() + within_s, None
    spent = _workers_cpu_s()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = _workers_cpu_s()
        busy = now - spent > 0.02  # over 4 % of a core in half a second
        spent = now
        idle_since = None if busy else (idle_since or time.monotonic())
        if idle_since and time.monotonic() - idle_since >= quiet_s:
            return
    print(f"  the workers were still busy after {within_s} s; timing anyway", file=sys.stderr, flush=True)


def _workers_cpu_s() -> float:
    return sum(spent for group, spent in _others_cpu_s().values() if group == "celery workers")


EDIT_NUMBERS = itertools.count(1)


def timed_edits(user, corpus, edits, between=None) -> dict:
    """Save -> findable by meaning (its new passages in the user's index) of `edits` note edits,
    the first not counted (it warms the worker); `between(k)` runs before edit k."""
    from notes.models import Note
    from search import hnsw
    from search.models import Passage

    notes = list(Note.objects.filter(user=user).order_by("pk")[100 : 100 + edits + 1])
    times = []
    for k, note in enumerate(notes):
        if between:
            between(k)
        before = set(Passage.objects.filter(note=note).values_list("pk", flat=True))
        started = time.perf_counter()
        # Numbered across calls: a section that edits the same notes as an earlier one must
        # still change them (an unchanged text makes no new passages to wait for).
        body = corpus[(k * 13) % len(corpus)]["body"][:600] + f"\n\nEdit {next(EDIT_NUMBERS)}."
        note.apply_edit(base_version=note.version, title=note.title, body=body)
        while True:
            index = hnsw.get_index(user.pk)
            new = set(Passage.objects.filter(note=note).exclude(vector=None).values_list("pk", flat=True)) - before
            if new and new <= index.live:
                break
            if time.perf_counter() - started > 120:
                raise TimeoutError("edit not findable within 120s")
            time.sleep(0.005)
        if k:
            times.append((time.perf_counter() - started) * 1000)
    return {"p50": pct(times, 50), "p95": pct(times, 95), "max": round(max(times), 1)}


def section_findable(out, lab, user, big, corpus, edits):
    from search.tasks import reconcile, snapshot_user

    procfile_workers(lab)

    def busy_index_worker(k):
        if k % 5 == 1:  # a full rebuild of the big user's snapshot, and reconcile
            snapshot_user.apply_async(args=(big.pk,), kwargs={})
            reconcile.delay()

    out["findable_during_index_work_ms"] = timed_edits(user, corpus, edits, busy_index_worker)


def section_bulk(out, lab, user, corpus, edits, copies=4):
    """Save -> findable, an edit a second, while one user re-indexes COPIES x the corpus (real
    text: every note re-embedded) and another imports the research log through the web."""
    from django.contrib.auth import get_user_model

    from exchange.services import start_import
    from notes.models import Note
    from search import services

    procfile_workers(lab)
    User = get_user_model()
    reader, importer = (User.objects.create_user(name, password="bench-lab-pw") for name in ("reader", "importer"))
    Note.objects.bulk_create([Note(user=reader, title=f"{n['title']} ({c})", body=n["body"]) for c in range(copies) for n in corpus])
    log = ROOT.parent / "shared" / "data" / "research-log.txt"
    services.request_reindex(reader)
    job = start_import(importer, log.name, log.read_bytes())
    out["findable_during_reindex_and_import_ms"] = timed_edits(user, corpus, edits, lambda k: time.sleep(1))
    job.refresh_from_db()
    out["bulk_work_at_end"] = {"reindex": services.reindex_progress(reader), "import": f"{job.status} {job.done}/{job.total}"}


def section_profile(out, user, queries):
    from django.test import Client

    client = Client()
    client.force_login(user)
    for q in queries[:5]:
        client.get("/search/", {"q": q, "mode": "hybrid"})
    profile = cProfile.Profile()
    started = time.perf_counter()
    n = 60
    profile.enable()
    for k in range(n):
        client.get("/search/", {"q": queries[k % len(queries)], "mode": "hybrid"})
    profile.disable()
    out["profile_ms_per_page"] = round((time.perf_counter() - started) * 1000 / n, 1)
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(30)
    out["profile_top"] = text.getvalue().splitlines()[:60]


def _saver(args):
    user_id, seconds, env = args
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import OperationalError

    from notes.models import Note

    user = get_user_model().objects.get(pk=user_id)
    saves, locked, other = 0, 0, 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            Note.objects.create_note(user, title=f"Saved at {time.time()}", body="A note saved under load. " * 20)
            saves += 1
        except OperationalError as exc:
            locked += "locked" in str(exc)
            other += "locked" not in str(exc)
    return saves, locked, other


def section_savers(out, lab, savers, seconds):
    from django.contrib.auth import get_user_model

    ids = [get_user_model().objects.create_user(f"saver{k}", password="bench-saver-pw").pk for k in range(savers)]
    env = {k: v for k, v in os.environ.items() if k in lab.env}
    with multiprocessing.get_context("spawn").Pool(savers) as pool:
        results = pool.map(_saver, [(pk, seconds, env) for pk in ids])
    saves = sum(r[0] for r in results)
    out["savers"] = {
        "processes": savers, "seconds": seconds, "saves": saves, "saves_per_s": round(saves / seconds, 1),
        "database_is_locked": sum(r[1] for r in results), "other_errors": sum(r[2] for r in results),
    }


def run_section(name, out, lab, args, users, big, everyone, cookies, queries, corpus) -> None:
    """One section of the bench, by name, adding its figures to `out` (savers on SQLite only)."""
    from django.db import connection

    if name == "restart":
        section_restart(out, lab, big, cookies[-1])
    elif name == "throughput":
        section_throughput(out, lab, users, cookies, queries, corpus, args.clients, args.seconds, args.repeats)
    elif name == "memory":
        section_memory(out, lab, everyone, cookies, queries)
    elif name == "searchd":
        section_searchd(out, lab, everyone, cookies, queries)
    elif name == "findable":
        section_findable(out, lab, users[0], big, corpus, args.edits)
    elif name == "bulk":
        section_bulk(out, lab, users[0], corpus, args.edits)
    elif name == "profile":
        section_profile(out, users[0], queries)
    elif name == "savers" and connection.vendor == "sqlite":
        section_savers(out, lab, args.savers, min(args.seconds, 10))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--passages", type=int, default=5000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--repeats", type=int, default=3, help="throughput: quiet and with edits, alternately")
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--savers", type=int, default=20)
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    only = set(args.only.split(","))
    corpus, questions = load_json(DEFAULT_CORPUS), load_json(DEFAULT_QUERIES)
    queries = [q["q"] for q in questions] + [n["title"] for n in corpus]
    rng = np.random.default_rng(7)
    out = {"users": args.users, "passages_each": args.passages, "big_user_passages": args.big}
    with Lab("lab-scale") as lab:
        from django.contrib.auth import get_user_model
        from django.db import connection

        from search import hnsw

        out["database"] = connection.vendor
        User = get_user_model()
        users = [User.objects.create_user(f"member{k}", password="bench-lab-pw") for k in range(args.users)]
        big = User.objects.create_user("archivist", password="bench-lab-pw")
        # fill() embeds the corpus for each user: the same texts, so embed them once.
        import search.embedding

        search.embedding.embed = _embed_once(search.embedding.embed)
        started = time.perf_counter()
        for user in users:
            fill(user, corpus, args.passages, rng)
        fill(big, corpus, args.big, rng)
        out["fill_s"] = round(time.perf_counter() - started, 1)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE search_passage")
        started = time.perf_counter()
        for user in [*users, big]:
            hnsw.write_snapshot(user.pk)
        out["snapshots_written_s"] = round(time.perf_counter() - started, 1)
        everyone = [*users, big]
        cookies = [session_cookie(u) for u in everyone]
        for name in SECTIONS:
            if name not in only:
                continue
            print(f"  {name}...", file=sys.stderr, flush=True)
            started = time.perf_counter()
            try:
                run_section(name, out, lab, args, users, big, everyone, cookies, queries, corpus)
            except Exception as exc:  # the other sections' figures still count: report and go on
                out[f"{name}_failed"] = f"{type(exc).__name__}: {exc}"
            print(f"  {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    out["load_avg_1m"] = round(os.getloadavg()[0], 2)
    for key, value in out.items():
        if key == "profile_top":
            print("profile (cumulative):")
            print("\n".join(value))
        else:
            print(f"{key:>32}: {value}")
    if args.json:
        print(json.dumps(out))
    return 1 if any(key.endswith("_failed") for key in out) else 0


if __name__ == "__main__":
    sys.exit(main())
