"""CPU to render the search results page with this tree's templates against those of an
earlier commit, alternately in one process, for the same requests and search results.

A whole request's CPU varies by several ms from one run to the next on a shared VM; a change
of a template worth 1–2 ms shows only when both versions render the same pages in turn.
Both template sets use this tree's template tags and filters (an old template that calls a
tag since removed fails to load: compare across such a change with search_page_cpu.py).

    .venv/bin/python bench/render_ab.py --baseline REV [--questions 20] [--rounds 25] [--json]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, Lab  # noqa: E402


def templates_of(rev: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "templates"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "templates"


def engine_for(templates: Path):
    """An engine like the site's (same loaders, tags, context processors) reading `templates`."""
    from django.template import Engine, engines

    site = engines["django"].engine
    return Engine(dirs=[templates], loaders=site.loaders, context_processors=site.context_processors,
                  libraries=site.libraries, builtins=site.builtins, debug=site.debug, autoescape=site.autoescape)


def results_pages(client, questions: list[str]) -> list[tuple]:
    """The (request, template name, context) of each question's full results page, as the view rendered it."""
    from search.views import results as view

    rendered = []
    real_render = view.render

    def keep(request, name, context):
        rendered.append((request, name, context))
        return real_render(request, name, context)

    view.render = keep
    try:
        for question in questions:
            assert client.get("/search/", {"q": question}).status_code == 200
    finally:
        view.render = real_render
    return rendered


def render_ms(engine, pages) -> float:
    """CPU ms per page, rendering every page once."""
    from django.template import RequestContext

    started = time.process_time()
    for request, name, context in pages:
        engine.get_template(name).render(RequestContext(request, context))
    return (time.process_time() - started) * 1000 / len(pages)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", required=True, help="the commit whose templates to compare with")
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from search_page_cpu import signed_in_user

    with Lab("render-ab"), tempfile.TemporaryDirectory(prefix="render-ab-", dir=ROOT / "var") as old_tree:
        _, questions, client = signed_in_user()
        pages = results_pages(client, questions[: args.questions])
        engines = {"this tree": engine_for(ROOT / "templates"), args.baseline: engine_for(templates_of(args.baseline, Path(old_tree)))}
        for engine in engines.values():  # compile and cache every template first
            render_ms(engine, pages)
        times = {name: [] for name in engines}
        for _ in range(args.rounds):
            for name, engine in engines.items():
                times[name].append(render_ms(engine, pages))
        result = {name: round(statistics.median(ms), 2) for name, ms in times.items()}
        result["paired_difference_ms"] = round(statistics.median(a - b for a, b in zip(*times.values())), 2)
        result["pages"], result["rounds"] = len(pages), args.rounds
    if args.json:
        print(json.dumps(result))
    else:
        print(f"render CPU ms per results page, median of {args.rounds} rounds of {len(pages)} pages:")
        for name, value in result.items():
            print(f"  {name:22} {value}")


if __name__ == "__main__":
    main()
