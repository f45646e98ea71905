"""Listeners of the notes signals (sent after commit): each save enqueues indexing on
queue `embed`; a deleted account's keyword index is dropped in the deleting transaction
and its index files are removed by the index worker. A broker that does not answer never
fails the save: the error is logged and the reconcile task indexes the source once Redis
is back."""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, pre_delete

from notes import signals

log = logging.getLogger(__name__)

# Bulk work (an import's notes, a requested re-index, and reconcile's stale sources after
# an outage, a model switch or a bulk load, up to a thousand a pass) goes behind every
# save: Redis hands a worker messages of priority 0, the default, before those of 9,
# whichever queues it reads. Else a save waited behind the whole backlog: 38 s at p95 in
# bench/lab_scale.py's findable run on PostgreSQL.
BACKGROUND = 9


def enqueue(task, *args, priority: int | None = None) -> bool:
    try:
        task.apply_async(args=args, retry=False, priority=priority)
        return True
    except Exception:
        log.warning("search: could not enqueue %s%r; reconcile will pick it up", task.name, args, exc_info=True)
        return False


def _priority(bulk: bool) -> int | None:
    return BACKGROUND if bulk else None


def _note_changed(sender, note_id, bulk=False, **kwargs):
    from search.tasks import index_note

    from search.indexing import index_note_text

    try:
        index_note_text(note_id)
    except Exception:  # the save has committed; the worker and reconcile still index it
        log.warning("search: keyword passages of note %s not written at save", note_id, exc_info=True)
    enqueue(index_note, note_id, priority=_priority(bulk))


def _note_deleted(sender, note_id, **kwargs):
    from search.tasks import remove_note

    enqueue(remove_note, note_id)


def _paper_changed(sender, paper_id, bulk=False, **kwargs):
    from search.tasks import index_paper

    enqueue(index_paper, paper_id, priority=_priority(bulk))


def _paper_deleted(sender, paper_id, **kwargs):
    from search.tasks import remove_paper

    enqueue(remove_paper, paper_id)


def _snippet_changed(sender, note_id, bulk=False, **kwargs):
    _note_changed(sender, note_id, bulk)


def _user_deleting(sender, instance, **kwargs):
    """Inside the deleting transaction, before the passages cascade: the user's keyword
    index and its triggers go (so the cascade does not maintain an index being dropped),
    and come back if the deletion rolls back."""
    from search import keyword_index

    keyword_index.drop(instance.pk)


def _user_deleted(sender, instance, **kwargs):
    from search.tasks import drop_user_index

    user_id = instance.pk
    transaction.on_commit(lambda: enqueue(drop_user_index, user_id))


def connect() -> None:
    signals.note_changed.connect(_note_changed, dispatch_uid="search-note-changed")
    signals.note_deleted.connect(_note_deleted, dispatch_uid="search-note-deleted")
    signals.paper_changed.connect(_paper_changed, dispatch_uid="search-paper-changed")
    signals.paper_deleted.connect(_paper_deleted, dispatch_uid="search-paper-deleted")
    signals.snippet_changed.connect(_snippet_changed, dispatch_uid="search-snippet-changed")
    signals.snippet_deleted.connect(_snippet_changed, dispatch_uid="search-snippet-deleted")
    pre_delete.connect(_user_deleting, sender=settings.AUTH_USER_MODEL, dispatch_uid="search-user-deleting")
    post_delete.connect(_user_deleted, sender=settings.AUTH_USER_MODEL, dispatch_uid="search-user-deleted")
