import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lablog.settings")
application = get_wsgi_application()
# The URLconf (the API's schema with it) imported as each process starts: lazily, it was ~0.5 s
# of the first request a process served, a user's first search after a restart included.
get_resolver().url_patterns
