"""SQLite: one FTS5 index per user instead of one shared by everyone (see search/keyword_index.py)."""

from django.db import migrations

from search.keyword_index import merge_back, split_per_user


class Migration(migrations.Migration):
    dependencies = [("search", "0005_postgres_passage_storage")]

    operations = [migrations.RunPython(split_per_user, merge_back)]
