"""manage.py runjob KIND (--note ID | --new-note TITLE) --user USERNAME [--param name=value ...] [--wait] [--json]

Creates a runnable on the note and starts a run through the same queue as the web app.
With --wait it follows the run until it ends; with --json the last line is
{"run": id, "status": ..., "device": ..., "metrics": {...}, "artifacts": [names...]}.
"""

import json
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from notes.models import Note
from workers.forms import ParamsForm
from workers.jobs import get_kind, kinds
from workers.models import Run, Runnable
from workers.panel import waiting_message, worker_online


class Command(BaseCommand):
    help = "Create a runnable on a note and run it on its kind's queue."

    def add_arguments(self, parser):
        parser.add_argument("kind", help="job kind: " + ", ".join(kinds()))
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--note", type=int, help="id of one of the user's notes")
        target.add_argument("--new-note", metavar="TITLE", help="create a note with this title")
        parser.add_argument("--user", required=True, help="username of the note's owner")
        parser.add_argument(
            "--param", action="append", default=[], metavar="NAME=VALUE",
            help="a parameter (repeatable); lists are comma-separated: guidance_scales=0,1,4",
        )
        parser.add_argument("--wait", action="store_true", help="follow the run until it ends")
        parser.add_argument("--json", action="store_true", help="print the result as JSON (last line)")
        parser.add_argument("--timeout", type=float, default=0, help="with --wait: give up after this many seconds")

    def handle(self, *args, **opts):
        kind = get_kind(opts["kind"])
        if kind is None:
            raise CommandError(f"unknown job kind {opts['kind']!r} (known: {', '.join(kinds())})")
        try:
            user = get_user_model().objects.get(username=opts["user"])
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user {opts['user']!r}") from None

        raw = {}
        for item in opts["param"]:
            name, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"--param {item!r}: expected NAME=VALUE")
            raw[name.strip()] = value
        unknown = set(raw) - {p.name for p in kind.params}
        if unknown:
            raise CommandError(f"unknown parameter(s) for {kind.name}: {', '.join(sorted(unknown))}")
        form = ParamsForm(kind, {**{p.name: p.format(p.default) for p in kind.params}, **raw})
        if not form.is_valid():
            problems = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in form.errors.items())
            raise CommandError(f"invalid parameters: {problems}")

        if opts["note"] is not None:
            note = Note.objects.for_user(user).filter(pk=opts["note"]).first()
            if note is None:
                raise CommandError(f"user {user.username} has no note {opts['note']}")
        else:
            note = Note.objects.create_note(user, title=opts["new_note"])
        runnable = Runnable.objects.create(note=note, kind=kind.name, params=form.params)
        run = runnable.start_run()
        if not opts["json"]:
            self.stdout.write(f"run {run.pk} of {kind.name} queued on note {note.pk} ({note.title})")
            if not worker_online(run.queue):
                self.stderr.write(f"  no live worker can run it now: {waiting_message(run.kind, run.params)}")
        if not opts["wait"]:
            if opts["json"]:
                self.stdout.write(json.dumps(self._summary(run)))
            return
        run = self._follow(run, opts["timeout"], quiet=opts["json"])
        if opts["json"]:
            self.stdout.write(json.dumps(self._summary(run)))
        else:
            self.stdout.write(f"run {run.pk} {run.status}" + (f": {run.error}" if run.error else ""))
            for name, value in run.metrics.items():
                self.stdout.write(f"  {name}: {json.dumps(value)}")
        if run.status != Run.SUCCEEDED:
            raise CommandError(f"run {run.pk} {run.status}")

    def _follow(self, run: Run, timeout: float, quiet: bool) -> Run:
        deadline = time.monotonic() + timeout if timeout else None
        last = None
        while True:
            run.refresh_from_db()
            state = (run.status, round(run.progress), run.step)
            if state != last and not quiet:
                self.stderr.write(f"  {run.status} {run.progress:.0f}% {run.step}")
                last = state
            if run.ended:
                return run
            if deadline and time.monotonic() > deadline:
                raise CommandError(f"run {run.pk} still {run.status} after {timeout:g}s")
            time.sleep(0.5)

    @staticmethod
    def _summary(run: Run) -> dict:
        return {
            "run": run.pk, "status": run.status, "device": run.device, "metrics": run.metrics,
            "artifacts": list(run.artifacts.values_list("name", flat=True)),
        }
