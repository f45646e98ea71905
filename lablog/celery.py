"""The Celery app. Queues: `default`, `embed` (search embedding), `index` (the search
index writer: snapshots and reconcile, a worker of its own with concurrency 1, so its
sweeps never delay embedding) and `gpu` (runnable jobs). Each app keeps the tasks that
call its services (`search/tasks.py`, `exchange/tasks.py`, `workers/tasks.py`) and the
app discovers them all; settings come from Django's settings under the CELERY_ prefix."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lablog.settings")

app = Celery("lablog")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["search", "exchange", "workers"])
