"""`manage.py index_status [--user U] [--json]`: totals and per-note indexing state."""

import json

from django.core.management.base import BaseCommand

from search.management.commands._users import users_or_all
from search.services import index_status


class Command(BaseCommand):
    help = "Show, per user, indexed notes, passages, vectors, pending and failed work, index size and age."

    def add_arguments(self, parser):
        parser.add_argument("--user", help="username or id (default: every user)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        for user in users_or_all(options["user"]):
            status = index_status(user)
            if options["json"]:
                self.stdout.write(json.dumps({"user": user.username, **status}, default=str))
                continue
            self.stdout.write(f"{user.username}: " + ", ".join(f"{k}={v}" for k, v in status["totals"].items()))
            for note in status["notes"]:
                if note["state"] != "indexed":
                    self.stdout.write(f"  note {note['note_id']} {note['state']}: {note['title']} {note['error']}".rstrip())
