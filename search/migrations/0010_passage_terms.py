from django.db import migrations, models

# SQLite: a passage whose context or text is changed (by any writer) loses its kept counts,
# which are made again from the text when read (search/keyword_terms.py).
SQLITE_FORWARD = [
    "CREATE TRIGGER search_passage_terms_au AFTER UPDATE OF context, text ON search_passage "
    "WHEN new.terms IS NOT NULL AND (new.context IS NOT old.context OR new.text IS NOT old.text) "
    "BEGIN UPDATE search_passage SET terms = NULL WHERE id = new.id; END",
]
SQLITE_BACKWARD = ["DROP TRIGGER IF EXISTS search_passage_terms_au"]


def forward(apps, schema_editor):
    from search import keyword_terms

    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)
        keyword_terms.backfill(schema_editor.connection)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_BACKWARD:
            schema_editor.execute(statement)


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
        migrations.RunPython(forward, backward),
    ]
