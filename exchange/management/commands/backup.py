"""`manage.py backup DIR`: the whole instance (database snapshot, run artifacts, manifest
with checksums) into a new folder, while the app keeps running. See exchange/backup.py."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from exchange.backup import BackupError, backup


class Command(BaseCommand):
    help = "Back up the whole Lablog (database, run artifacts, manifest) into a new folder, online."

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path, help="a new or empty folder")

    def handle(self, directory, **options):
        try:
            manifest = backup(directory)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        counts = ", ".join(f"{n} {kind}" for kind, n in manifest["counts"].items())
        size = sum(f["size"] for f in manifest["files"])
        self.stdout.write(f"backed up {counts} ({len(manifest['files'])} files, {size:,} bytes) "
                          f"to {directory} in {manifest['seconds']} s")
        if manifest["missing_artifacts"]:
            self.stderr.write(f"{len(manifest['missing_artifacts'])} artifacts were deleted during the backup")
