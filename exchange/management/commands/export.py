"""`manage.py export --user USERNAME [--format json|markdown] [-o FILE]`"""

import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from exchange.exporters import export_json, export_markdown_zip


class Command(BaseCommand):
    help = "Export everything a user has, as Lablog JSON or as a zip of markdown files (an Obsidian vault)."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True)
        parser.add_argument("--format", choices=["json", "markdown"], default="json")
        parser.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")

    def handle(self, user, format, output, **options):
        try:
            owner = get_user_model().objects.get(username=user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user {user!r}") from None
        data = export_json(owner) if format == "json" else export_markdown_zip(owner)
        if output:
            output.write_bytes(data)
            self.stderr.write(f"wrote {len(data):,} bytes to {output}")
        else:
            sys.stdout.buffer.write(data)
