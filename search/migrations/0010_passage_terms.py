from django.db import migrations, models

from search import keyword_terms
from search.keyword_schema import on_vendor

# SQLite: a passage whose context or text is changed (by any writer) loses its kept counts,
# which are made again from the text when read (search/keyword_terms.py).
SQLITE_FORWARD = [
    "CREATE TRIGGER search_passage_terms_au AFTER UPDATE OF context, text ON search_passage "
    "WHEN new.terms IS NOT NULL AND (new.context IS NOT old.context OR new.text IS NOT old.text) "
    "BEGIN UPDATE search_passage SET terms = NULL WHERE id = new.id; END",
]
SQLITE_BACKWARD = ["DROP TRIGGER IF EXISTS search_passage_terms_au"]


def backfill(apps, schema_editor):
    """The counts of the passages saved before this migration."""
    if schema_editor.connection.vendor == "sqlite":
        keyword_terms.backfill(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ('search', '0009_reindex_cursor'),
    ]

    operations = [
        migrations.AddField(
            model_name='passage',
            name='terms',
            field=models.TextField(null=True),
        ),
        migrations.RunPython(on_vendor("sqlite", SQLITE_FORWARD), on_vendor("sqlite", SQLITE_BACKWARD)),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
