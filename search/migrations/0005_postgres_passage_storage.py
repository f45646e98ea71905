"""PostgreSQL: passage vectors stored out of line, tsvectors in the row (see search/keyword.py)."""

from django.db import migrations

from search.keyword_schema import reset_postgres_storage, set_postgres_storage


class Migration(migrations.Migration):
    dependencies = [("search", "0004_tombstone_created")]

    operations = [migrations.RunPython(set_postgres_storage, reset_postgres_storage)]
