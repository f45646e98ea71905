"""`manage.py reindex [--user U] [--model PATH]`: re-embed notes and papers, rebuild the index.

With --model, this run embeds with PATH and finishes each user's switch to it (their
searches use PATH from then on). It changes nothing in other processes: unless
EMBEDDING_MODEL=PATH is set for the web and worker processes too, their configured model
differs from PATH and they switch every user back (re-embedding in the background).
"""

import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from notes.models import Note, Paper
from search.management.commands._users import users_or_all
from search.reindex import reindex_user


class Command(BaseCommand):
    help = (
        "Re-embed every note and paper (of one user, or everyone) with the configured model and rebuild the HNSW "
        "index; with --model PATH, embed with PATH and switch searches to it (set EMBEDDING_MODEL=PATH for the web "
        "and workers too, or they switch back)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", help="username or id (default: every user)")
        parser.add_argument(
            "--model",
            help="a local sentence-transformers directory: this run embeds with it and switches searches to it; "
            "EMBEDDING_MODEL must name it for the web and workers to stay on it",
        )

    def handle(self, *args, **options):
        if options["model"]:
            path = os.path.abspath(options["model"])
            if not os.path.isfile(os.path.join(path, "modules.json")):
                raise CommandError(f"{path} is not a sentence-transformers directory (no modules.json)")
            settings.EMBEDDING_MODEL = path
            self.stderr.write(
                f"embedding with {path}; each user's searches switch to it once their collection is re-embedded. "
                f"Set EMBEDDING_MODEL={path} for the web and worker processes, or they will switch back."
            )
        from tqdm import tqdm

        for user in users_or_all(options["user"]):
            total = Note.objects.for_user(user).count() + Paper.objects.for_user(user).count()
            with tqdm(total=total, desc=f"{user.username}", unit="item", file=sys.stderr) as bar:
                reindex_user(user.pk, progress=lambda: bar.update(1))
        self.stdout.write("done")
