"""How much of the plain-text research log survives import: notes titled by a bare URL,
papers titled only `arXiv:NNNN`, code blocks, and source lines kept as separate lines.

    .venv/bin/python bench/import_fidelity.py [--json]
"""

import argparse
import json
import re
import sys

from _common import ROOT, Lab

DATA = ROOT.parent / "shared" / "data"
URL_TITLE = re.compile(r"^(paper\s*[-:]?\s*)?https?://", re.I)


def visual_lines(html: str) -> int:
    """Lines a reader sees: paragraphs, list items, hard breaks, and lines of code blocks."""
    blocks = len(re.findall(r"<(p|li|h[1-6]|tr)\b", html)) + len(re.findall(r"<br\s*/?>", html))
    code = sum(m.count("\n") for m in re.findall(r"<pre\b.*?</pre>", html, re.S))
    return blocks + code


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with Lab("fidelity"):
        from django.contrib.auth import get_user_model

        from exchange.importers import import_path, research_log
        from notes.models import Note, Paper

        user = get_user_model().objects.create_user("fidelity")
        text = (DATA / "research-log.txt").read_text()
        report = import_path(user, DATA / "research-log.txt").as_dict()
        notes = list(Note.objects.for_user(user))
        source_lines = sum(
            sum(1 for line in body.split("\n") if line.strip()) for _, body in research_log.split_entries(text)
        )
        figures = {
            "notes": len(notes),
            "failed": len(report["failed"]),
            "notes_titled_by_url": sum(1 for n in notes if URL_TITLE.match(n.title)),
            "papers": Paper.objects.for_user(user).count(),
            "papers_titled_arxiv_id": Paper.objects.for_user(user).filter(title__startswith="arXiv:").count(),
            "code_blocks": sum(n.html().count("<pre") for n in notes),
            "source_lines": source_lines,
            "rendered_lines": sum(visual_lines(n.html()) for n in notes),
        }
    if args.json:
        print(json.dumps(figures))
    else:
        for name, value in figures.items():
            print(f"{name:>24}: {value}")


if __name__ == "__main__":
    sys.exit(main())
