"""`manage.py restore DIR`: a backup made by `manage.py backup`, into this (fresh) instance.
Refuses a backup without its manifest or with a damaged file before changing anything.
Stop the web app and workers first. See exchange/backup.py."""

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from exchange.backup import BackupError, counts, restore


class Command(BaseCommand):
    help = "Restore a Lablog backup folder into this instance (stop the web app and workers first)."

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)
        parser.add_argument("--replace", action="store_true",
                            help="replace this instance's data (by default only an empty instance is restored into)")

    def handle(self, directory, replace, **options):
        started = time.monotonic()
        try:
            manifest = restore(directory, replace=replace)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        now = counts()
        summary = ", ".join(f"{n} {kind}" for kind, n in now.items())
        self.stdout.write(f"restored {summary} from {directory} in {time.monotonic() - started:.2f} s")
        short = {k: (v, now.get(k)) for k, v in manifest["counts"].items() if now.get(k) != v}
        if short:
            raise CommandError(f"restored counts differ from the backup's: {short}")
