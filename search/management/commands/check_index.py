"""`manage.py check_index [--user U]`: verify the index and the database agree; exit 1 if not."""

from django.core.management.base import BaseCommand, CommandError

from search.check import check_user
from search.management.commands._users import users_or_all


class Command(BaseCommand):
    help = "Check that every passage has exactly one live vector and the index holds nothing else."

    def add_arguments(self, parser):
        parser.add_argument("--user", help="username or id (default: every user)")

    def handle(self, *args, **options):
        problems = []
        for user in users_or_all(options["user"]):
            report = check_user(user.pk)
            self.stdout.write(f"{user.username}: {report['vectors']} vectors, {report['index_live']} live in the index")
            problems += [f"{user.username}: {p}" for p in report["problems"]]
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} problem(s)")
        self.stdout.write("index and database agree")
