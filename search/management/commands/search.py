"""`manage.py search "query" [--mode hybrid|semantic|keyword] [--user U] [--limit N] [--json]`."""

import json

from django.core.management.base import BaseCommand

from search.management.commands._users import resolve_user
from search.services import MODES, search


class Command(BaseCommand):
    help = "Search one user's notes, papers and snippets; prints ranked hits (id, title, score, passage)."

    def add_arguments(self, parser):
        parser.add_argument("query")
        parser.add_argument("--mode", choices=MODES, default="hybrid")
        parser.add_argument("--user", help="username or id (default: the only user)")
        parser.add_argument("--limit", type=int, default=10)
        parser.add_argument("--json", action="store_true", help="one JSON object per hit")

    def handle(self, *args, **options):
        user = resolve_user(options["user"])
        page = search(user, options["query"], mode=options["mode"], limit=options["limit"])
        for rank, hit in enumerate(page.hits, 1):
            if options["json"]:
                self.stdout.write(json.dumps({**self.as_json(hit), "rank": rank, "notes": [self.as_json(n) for n in hit.notes]}))
                continue
            self.write_hit(f"{rank:>3}. ", hit)
            for note in hit.notes:  # the notes about a found paper, beneath it
                self.write_hit("       - ", note)
        if not options["json"]:
            self.stdout.write(f"{page.total} found in {page.took_ms:.1f} ms ({page.mode})")

    @staticmethod
    def as_json(hit) -> dict:
        return {"kind": hit.kind, "id": hit.object_id, "note_id": hit.note_id, "title": hit.title,
                "score": round(hit.score, 6), "passage": hit.passage, "url": hit.url}

    def write_hit(self, lead: str, hit) -> None:
        passage = " ".join(hit.passage.split())
        self.stdout.write(f"{lead}[{hit.kind} {hit.object_id}] {hit.title}  ({hit.score:.4f})")
        self.stdout.write(f"{' ' * len(lead)}{passage[:160]}{'…' if len(passage) > 160 else ''}")

