"""PostgreSQL: the keyword GIN index merges new entries every 64 kB, so a search never reads
a long list of unmerged ones (see search/keyword_schema.py)."""

from django.db import migrations

from search import keyword_schema


class Migration(migrations.Migration):
    dependencies = [("search", "0010_passage_terms")]

    operations = [migrations.RunPython(keyword_schema.limit_postgres_pending_list, keyword_schema.unlimit_postgres_pending_list)]
