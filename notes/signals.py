"""Signals the notes app sends after a change has committed. Listeners (the search
app's indexing) are connected explicitly in their AppConfig.ready().

Deletions are announced from post_delete, not from the models' delete(): a queryset
delete (bulk actions, the admin), a cascade (a user deleted) and a single delete all
send them, so search forgets every deleted row.

Changes made inside `bulk()` (an import) are announced with bulk=True: indexing puts them
behind people's one-at-a-time saves, so a large import never holds up anyone's save."""

from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import Signal

note_changed = Signal()  # note_id, user_id, version
note_deleted = Signal()  # note_id, user_id
paper_changed = Signal()  # paper_id, user_id
paper_deleted = Signal()  # paper_id, user_id
snippet_changed = Signal()  # snippet_id (None when several moved), note_id
snippet_deleted = Signal()  # snippet_id, note_id
# The *_changed signals also carry bulk: whether the change was made inside bulk().

_in_bulk = ContextVar("notes_in_bulk", default=False)


@contextmanager
def bulk():
    """Mark the changes made inside as one bulk operation's (an import's)."""
    token = _in_bulk.set(True)
    try:
        yield
    finally:
        _in_bulk.reset(token)


def send_on_commit(signal: Signal, sender, **kwargs) -> None:
    """Send `signal` once the surrounding transaction commits, with `bulk` as it is now: the
    commit may come after the bulk() block has ended."""
    kwargs["bulk"] = _in_bulk.get()
    transaction.on_commit(lambda: signal.send(sender=sender, **kwargs))


def _note_deleted(sender, instance, **kwargs):
    from notes.models import Tag

    pk, user_id = instance.pk, instance.user_id

    def announce():
        note_deleted.send(sender=sender, note_id=pk, user_id=user_id)
        Tag.objects.prune(user_id)

    transaction.on_commit(announce)


def _paper_deleted(sender, instance, **kwargs):
    pk, user_id = instance.pk, instance.user_id
    transaction.on_commit(lambda: paper_deleted.send(sender=sender, paper_id=pk, user_id=user_id))


def _snippet_deleted(sender, instance, **kwargs):
    from notes.models import Note

    pk, note_id = instance.pk, instance.note_id

    def announce():
        # A snippet that went with its note needs no re-indexing of that note: it is gone too.
        if Note.objects.filter(pk=note_id).exists():
            snippet_deleted.send(sender=sender, snippet_id=pk, note_id=note_id)

    transaction.on_commit(announce)


def connect() -> None:
    from notes.models import Note, Paper, Snippet

    post_delete.connect(_note_deleted, sender=Note, dispatch_uid="notes-note-deleted")
    post_delete.connect(_paper_deleted, sender=Paper, dispatch_uid="notes-paper-deleted")
    post_delete.connect(_snippet_deleted, sender=Snippet, dispatch_uid="notes-snippet-deleted")
