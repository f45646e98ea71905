"""PostgreSQL: the keyword GIN index over (user, words), so a ranking reads only the user's
matching rows (see search/keyword.py)."""

from django.db import migrations

from search.keyword_schema import create_postgres_user_index, drop_postgres_user_index


class Migration(migrations.Migration):
    dependencies = [("search", "0007_postgres_keyword_stats")]

    operations = [migrations.RunPython(create_postgres_user_index, drop_postgres_user_index)]
