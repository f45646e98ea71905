"""`manage.py import PATH --user USERNAME [--format …] [--json]`"""

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from exchange.importers import FORMATS, import_path


class Command(BaseCommand):
    help = "Import a research log, paper listing, blog feed, markdown file/folder/zip, BibTeX or Lablog JSON."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--user", required=True, help="username that will own what is imported")
        parser.add_argument("--format", choices=sorted(FORMATS), help="skip format detection")
        parser.add_argument("--json", action="store_true", help="print the report as JSON on the last line")

    def handle(self, path, user, format, json: bool, **options):
        try:
            owner = get_user_model().objects.get(username=user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user {user!r}") from None
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        report = import_path(owner, path, format, self._progress).as_dict()
        self.stderr.write("")
        self._summary(report)
        if json:
            self.stdout.write(_json(report))

    def _progress(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // total if total else width
        self.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", ending="")
        self.stderr.flush()

    def _summary(self, report: dict) -> None:
        for verb in ("created", "updated"):
            counts = ", ".join(f"{n} {kind}" for kind, n in report[verb].items() if n)
            self.stderr.write(f"{verb}: {counts or 'nothing'}")
        for failure in report["failed"]:
            self.stderr.write(f"failed: {failure['item']}: {failure['reason']}")
        for notice in report["notices"]:
            self.stderr.write(f"note: {notice['item']}: {notice['message']}")
            for title in notice.get("choices", []):
                self.stderr.write(f"    “{title}”")


def _json(report: dict) -> str:
    return json.dumps(report, ensure_ascii=False)
