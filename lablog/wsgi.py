import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lablog.settings")
application = get_wsgi_application()

# What each process's first request used to pay for, done as the process starts: importing the
# URLconf (the API's schema with it, ~0.5 s) and loading the query model (~0.3 s). A user's
# first search after a restart at 100k passages on PostgreSQL: 1.07 -> 0.76 s (SQLite 0.56 -> 0.36).
get_resolver().url_patterns

from search import embedding  # noqa: E402  (its models need the apps set up above)

embedding.load_query_model()
