"""`manage.py reindex [--user U] [--model PATH]`: re-embed notes and papers, rebuild the index."""

import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from notes.models import Note, Paper
from search.management.commands._users import users_or_all
from search.reindex import reindex_user


class Command(BaseCommand):
    help = "Re-embed every note and paper (of one user, or everyone) and rebuild the HNSW index."

    def add_arguments(self, parser):
        parser.add_argument("--user", help="username or id (default: every user)")
        parser.add_argument("--model", help="a local sentence-transformers directory to embed with")

    def handle(self, *args, **options):
        if options["model"]:
            path = os.path.abspath(options["model"])
            if not os.path.isfile(os.path.join(path, "modules.json")):
                raise CommandError(f"{path} is not a sentence-transformers directory (no modules.json)")
            settings.EMBEDDING_MODEL = path
            self.stderr.write(f"embedding with {path}; set EMBEDDING_MODEL={path} for the web and worker processes too")
        from tqdm import tqdm

        for user in users_or_all(options["user"]):
            total = Note.objects.for_user(user).count() + Paper.objects.for_user(user).count()
            with tqdm(total=total, desc=f"{user.username}", unit="item", file=sys.stderr) as bar:
                reindex_user(user.pk, progress=lambda: bar.update(1))
        self.stdout.write("done")
