"""How long the lab-notebook pages take to serve, through Django's full stack (middleware, CSP,
templates, SVG charts), for a user with the daily paper listings imported (about 100 papers) and a note
with a finished three-run guidance sweep.

    .venv/bin/python bench/page_times.py [--requests 40] [--json]

Prints p50 / p95 milliseconds and the HTML size of each page.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, Lab  # noqa: E402

PAPERS = sorted((ROOT.parent / "shared" / "data").glob("daily-papers-*.txt"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with Lab("pages"):
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.test import Client

        from notes.models import Paper
        from tests.lab_fixtures import lab_note

        settings.ALLOWED_HOSTS = ["*"]
        user = get_user_model().objects.create_user("bench")
        for path in PAPERS:
            with open("/dev/null", "w") as quiet:
                call_command("import", str(path), user="bench", stdout=quiet, stderr=quiet)
        note, runs = lab_note(user, runs=3)
        client = Client()
        client.force_login(user)
        pages = {
            "log": "/",
            "note with a 3-run sweep": note.get_absolute_url(),
            "run page": runs[0].get_absolute_url(),
            "compare 3 runs": "/runs/compare/?" + "&".join(f"runs={r.pk}" for r in runs),
            "search results (words)": "/search/?q=guidance+scale&mode=keyword",
            "paper type-ahead": "/papers/suggest/?paper=diffusion",
        }
        results = {"papers": Paper.objects.filter(user=user).count()}
        for name, url in pages.items():
            for _ in range(3):
                assert client.get(url).status_code == 200, url
            times = []
            for _ in range(args.requests):
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            results[name] = {
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
                "html_kib": round(len(response.content) / 1024, 1),
            }
        if args.json:
            print(json.dumps(results))
        else:
            for name, value in results.items():
                print(f"{name:28} {value}")


if __name__ == "__main__":
    main()
