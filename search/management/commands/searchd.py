"""`manage.py searchd [--socket PATH]`: the machine's one search-index process (see
search/hnsw/daemon.py), serving web processes on SEARCH_INDEX_SOCKET until SIGTERM/SIGINT."""

import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from search.hnsw import daemon


class Command(BaseCommand):
    help = "Hold the search indexes of this machine once, for every web process (over a Unix socket)."

    def add_arguments(self, parser):
        parser.add_argument("--socket", default=settings.SEARCH_INDEX_SOCKET, help="default: SEARCH_INDEX_SOCKET")

    def handle(self, *args, **options):
        path = options["socket"]
        if not path:
            raise CommandError("no socket: set SEARCH_INDEX_SOCKET or pass --socket")
        try:
            server = daemon.bind(path)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: daemon.stop_in_background(server))
        self.stdout.write(f"searchd listening on {path} (memory budget {settings.SEARCH_INDEX_MEMORY_MB} MB)")
        self.stdout.flush()
        daemon.serve(server, path)
        self.stdout.write("searchd stopped")
