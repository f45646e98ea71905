"""The paper-listing importer used to write "6 authors, Jun 27, 2024" into `venue` for want of
fields; move what it holds into `author_count` and `published` and leave `venue` empty."""

import re
from datetime import datetime

from django.db import migrations

CRAMMED = re.compile(r"^(?:(\d+) authors?)?(?:, )?([A-Z][a-z]{2} \d{1,2}(?:, \d{4})?)?$")


def split_venue(apps, schema_editor):
    Paper = apps.get_model("notes", "Paper")
    # Only rows from the listing importer (source key "paper:…"); a real venue never matches anyway.
    for paper in Paper.objects.filter(source_key__startswith="paper:").exclude(venue=""):
        match = CRAMMED.match(paper.venue)
        if not match:
            continue
        count, date = match.groups()
        if count:
            paper.author_count = int(count)
        try:
            paper.published = datetime.strptime(date or "", "%b %d, %Y").date()
            paper.year = paper.published.year
        except ValueError:
            pass
        paper.venue = ""
        paper.save(update_fields=["author_count", "published", "year", "venue"])


class Migration(migrations.Migration):
    dependencies = [("notes", "0003_paper_author_count_published")]

    operations = [migrations.RunPython(split_venue, migrations.RunPython.noop)]
