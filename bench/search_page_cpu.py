"""CPU time per search results page, through Django's full stack in one process (the real
middleware, a database session, the templates), for one user with the 235-note corpus
indexed (and, with --passages N, N more passages as bench/search_latency.py makes them: a
lab member's years of notes), and where that CPU goes (cProfile).

CPU time (time.process_time: every thread of the process, the query-embedding thread
included) rather than wall time, so the figure holds on a machine other work is sharing.

    .venv/bin/python bench/search_page_cpu.py [--repeats 3] [--profile 12] [--passages 20000] [--baseline REV] [--json]

Each question of the dev sets (/work/shared/eval) is asked as a full page (hybrid, the
form's defaults), an htmx update of the results (a filter changed in place) and the
header's live dropdown. "first" is a spelling of the question no request asked before,
"repeat" the median of the next --repeats of the same request (what is kept between requests,
such as the query's vector, makes of asking again); the figures are the p50 over questions.
Then the full page asked again on another web process: this process's kept vectors and
rankings dropped, what the processes share through Redis kept.
The profile covers the request thread only (cProfile does not follow the embedding thread) and
its own overhead inflates every row several times: read it for shares, not milliseconds. --baseline REV also runs this script against the code of
commit REV (a `git archive` copy, same interpreter, same models), to compare in one session.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_CORPUS, ROOT, Lab, load_json  # noqa: E402

# The real material, also when this script runs in a copy of an older commit (--baseline).
SHARED = DEFAULT_CORPUS.parent.parent

# Where a results page's CPU goes, by the function that owns it (cumulative, so the rows overlap).
PROFILE_ROWS = {
    "whole request (handler)": "base.py:get_response",
    "session middleware": "sessions/middleware.py:process_request",
    "auth (user from session)": "auth/__init__.py:get_user",
    "view: results": "views/results.py:results",
    "form (validation)": "forms.py:is_valid",
    "services.search": "services.py:search",
    "keyword SQL": "keyword.py:search_passages",
    "  rescoring, SQLite": "keyword_rescore.py:sqlite",
    "  rescoring, PostgreSQL": "keyword_rescore.py:postgres",
    "meaning lookup (HNSW)": "user_index.py:query",
    "fusion": "fusion.py:fuse",
    "hits (rows, tags)": "services.py:_hits",
    "template render": "shortcuts.py:render",
    "footer: live workers (Redis)": "liveness.py:alive_workers",
    "filters: tag choices": "search_form.py:<lambda>",
    "highlight filter": "search_ui.py:highlight_terms",
    "ORM queries (all)": "compiler.py:execute_sql",
}


KINDS = ("full page", "htmx results", "dropdown")


def pages(question: str) -> dict[str, tuple[str, dict]]:
    query = urlencode({"q": question})
    return {
        "full page": (f"/search/?{query}", {}),
        "htmx results": (f"/search/?{query}&mode=hybrid", {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "search-results"}),
        "dropdown": (f"/search/?{query}", {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "search-dropdown"}),
    }


def spellings(question: str) -> list[str]:
    """The question spelled differently (the model and the keyword index ignore case): each
    kind of request, and the profile, asks its own spelling, so its first request finds
    nothing kept from another's."""
    return list(dict.fromkeys([question, question.upper(), question.title(), question.capitalize(), question.swapcase(),
                                 question.lower(), question[:1].swapcase() + question[1:]]))


def server_cpu_ms() -> float | None:
    """CPU the database server's processes serving this process's connections have used
    (PostgreSQL on this machine: /proc of each backend); None on SQLite, where the database
    runs in this process and process_time counts it."""
    from django.db import connections

    total = 0.0
    for alias in connections:
        db = connections[alias]
        if db.vendor != "postgresql":
            return None
        db.ensure_connection()
        pid = db.connection.info.backend_pid
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")  # utime + stime
    return total


def cpu_ms(client, url: str, headers: dict) -> float:
    started = time.process_time()
    response = client.get(url, **headers)
    spent = (time.process_time() - started) * 1000
    assert response.status_code == 200, (url, response.status_code)
    return spent


def profile_table(client, questions: list[str], top: int) -> tuple[list[tuple[str, float]], str]:
    """Cumulative CPU ms per full results page of the named rows, and the top entries."""
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for question in questions:
        url, headers = pages(spellings(question)[3])["full page"]  # a spelling not asked before
        client.get(url, **headers)
    profiler.disable()
    stats = pstats.Stats(profiler)
    per_page = 1000 / len(questions)
    named = []
    for label, where in PROFILE_ROWS.items():
        file_part, func = where.split(":")
        total = sum(
            cum for (path, _, name), (_, _, _, cum, _) in stats.stats.items()
            if name == func and path.endswith(file_part)
        )
        named.append((label, round(total * per_page, 2)))
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return named, out.getvalue()


def signed_in_user(shared: Path = SHARED, passages: int = 0):
    """The bench user with the corpus indexed (and `passages` more, with their snapshot), the
    dev questions, and a signed-in client."""
    import numpy as np
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from notes.models import Note
    from search import hnsw, indexing, services

    settings.ALLOWED_HOSTS = ["*"]
    user = get_user_model().objects.create_user("bench", password="bench-page-pw")
    for item in load_json(shared / "data" / "notes-corpus.json"):
        # Tagged by the corpus's own kinds (log, paper, blog): hits and the filter show tags.
        note = Note.objects.create_note(user, title=item.get("title", ""), body=item.get("body", ""), tags=[item["kind"]])
        indexing.index_note(note.pk)  # in this process: the bench needs vectors, not a worker
    if passages:
        from search_latency import fill

        fill(user, load_json(shared / "data" / "notes-corpus.json"), passages, np.random.default_rng(7))
        hnsw.write_snapshot(user.pk)  # as the snapshot worker would: searches load it, never build it
    from django.db import connection

    if connection.vendor == "postgresql":  # as bench/search_latency.py: a collection grown over months is vacuumed
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    questions = [q["q"] for name in ("dev-queries.json", "dev-queries-2.json") for q in load_json(shared / "eval" / name)]
    client = Client()
    client.force_login(user)  # a database session, as a signed-in browser has
    # Warm up: the ONNX session, the user's HNSW index, compiled templates.
    for question in questions[:3]:
        for url, headers in pages(question).values():
            client.get(url, **headers)
    assert services.search(user, questions[0]).hits, "the corpus did not index"
    return user, questions, client


def measure(args) -> dict:
    with Lab("search-page-cpu"):
        from notes.models import Note

        user, questions, client = signed_in_user(Path(args.shared), args.passages)
        from search.models import Passage

        results: dict = {"questions": len(questions), "notes": Note.objects.filter(user=user).count(),
                         "passages": Passage.objects.filter(user=user).count()}
        for number, kind in enumerate(KINDS):
            first, repeat = [], []
            server_before = server_cpu_ms()
            for question in questions:
                url, headers = pages(spellings(question)[number])[kind]
                first.append(cpu_ms(client, url, headers))
                repeat.append(statistics.median(cpu_ms(client, url, headers) for _ in range(args.repeats)))
            results[kind] = {
                "first_p50_ms": round(statistics.median(first), 2),
                "repeat_p50_ms": round(statistics.median(repeat), 2),
                "html_kib": round(len(client.get(url, **headers).content) / 1024, 1),
            }
            if server_before is not None:  # the mean over first and repeated requests: ticks are 10 ms
                requests = len(questions) * (1 + args.repeats) + 1
                results[kind]["db_server_mean_ms"] = round((server_cpu_ms() - server_before) / requests, 2)
        results[ANOTHER] = on_another_process(client, questions, args.repeats)
        results["profile"], results["profile_top"] = profile_table(client, questions, args.profile)
        return results


ANOTHER = "full page asked again on another web process"


def on_another_process(client, questions: list[str], rounds: int) -> dict:
    """The full page of a question asked before, landing on another web process (the next
    page, or the full page after the dropdown, with 3 web processes): what this process
    keeps is dropped, what the processes share through Redis stays. p50 over questions and
    rounds, and the database server's mean."""
    from search import kept_rankings, query_vectors

    forget_here = getattr(kept_rankings, "forget_here", kept_rankings.forget)  # before 9ea3c7f: nothing shared
    spent, server_before = [], server_cpu_ms()
    for _ in range(rounds):
        for question in questions:
            query_vectors._kept.cache_clear()
            forget_here()
            spent.append(cpu_ms(client, *pages(question)["full page"]))
    figures = {"p50_ms": round(statistics.median(spent), 2)}
    if server_before is not None:
        figures["db_server_mean_ms"] = round((server_cpu_ms() - server_before) / len(spent), 2)
    return figures


def baseline(rev: str, args) -> dict:
    """This script run against the code of commit `rev`."""
    with tempfile.TemporaryDirectory(prefix="search-page-cpu-", dir=ROOT / "var") as tree:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
        (Path(tree) / "var").mkdir(exist_ok=True)
        script = Path(tree) / "bench" / "search_page_cpu.py"
        script.write_text(Path(__file__).read_text())
        env = dict(os.environ, SEARCH_MODELS_DIR=os.environ.get("SEARCH_MODELS_DIR", str(ROOT / "var" / "models")))
        command = [sys.executable, str(script), "--json", "--repeats", str(args.repeats), "--profile", str(args.profile),
                   "--shared", args.shared, "--passages", str(args.passages)]
        done = subprocess.run(command, cwd=tree, env=env, check=True, capture_output=True, text=True)
        return json.loads(done.stdout.strip().splitlines()[-1])


def show(name: str, results: dict) -> None:
    print(f"== {name}: {results['notes']} notes, {results.get('passages', '?')} passages, {results['questions']} questions; "
          "CPU ms per request, p50 over questions")
    for kind in KINDS:
        print(f"  {kind:14} {results[kind]}")
    print(f"  {ANOTHER}: {results.get(ANOTHER)}")
    print("  profile, cumulative CPU ms per full results page:")
    for label, ms in results["profile"]:
        print(f"    {label:28} {ms:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, help="also print this many top cProfile entries")
    parser.add_argument("--passages", type=int, default=0, help="this many more passages for the user (as a lab member has)")
    parser.add_argument("--baseline", help="a commit to measure too, in the same session")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--shared", default=str(SHARED), help="the folder with data/notes-corpus.json and eval/")
    args = parser.parse_args()
    before = baseline(args.baseline, args) if args.baseline else None
    now = measure(args)
    if args.json:
        print(json.dumps(now | ({"baseline": before} if before else {})))
        return
    if before:
        show(f"baseline {args.baseline}", before)
        if args.profile:
            print(before["profile_top"])
    show("this tree", now)
    if args.profile:
        print(now["profile_top"])


if __name__ == "__main__":
    main()
