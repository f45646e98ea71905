"""Celery tasks, one module per concern. Each task is a few lines calling a plain
service function that tests call directly; arguments are ids, never objects."""

from workers.tasks.indexing import *  # noqa: F401,F403
from workers.tasks.runs import *  # noqa: F401,F403
from workers.tasks.imports import *  # noqa: F401,F403
