"""PostgreSQL: per-user passage counts of every lexeme, kept by triggers, for the keyword
row budget (see search/keyword.py)."""

from django.db import migrations

from search.keyword_schema import create_postgres_stats, drop_postgres_stats


class Migration(migrations.Migration):
    dependencies = [("search", "0006_keyword_index_per_user")]

    operations = [migrations.RunPython(create_postgres_stats, drop_postgres_stats)]
