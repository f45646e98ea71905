"""Full-text index of passages: tsvector + GIN on PostgreSQL, FTS5 on SQLite."""

from django.db import migrations

from search.keyword_schema import create_schema, drop_schema


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial")]

    operations = [migrations.RunPython(create_schema, drop_schema)]
