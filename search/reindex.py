"""Bulk work: re-embedding a user's collection, reconciling, periodic snapshots."""

import logging

from django.db.models import F

from notes.models import Note, Paper
from search import indexing
from search.hnsw import snapshot_info, write_snapshot
from search.models import Passage, UserIndexState

log = logging.getLogger(__name__)


def reindex_user(user_id: int, progress=None) -> int:
    """Re-embed every note and paper of the user, then write a compacted snapshot."""
    note_ids = list(Note.objects.filter(user_id=user_id).values_list("pk", flat=True))
    paper_ids = list(Paper.objects.filter(user_id=user_id).values_list("pk", flat=True))
    total = len(note_ids) + len(paper_ids)
    UserIndexState.objects.get_or_create(user_id=user_id)
    UserIndexState.objects.filter(user_id=user_id).update(reindex_state="running", reindex_total=total, reindex_done=0)
    for kind, ids in ((Passage.NOTE, note_ids), (Passage.PAPER, paper_ids)):
        for object_id in ids:
            if kind == Passage.NOTE:
                indexing.index_note(object_id, force=True)
            else:
                indexing.index_paper(object_id, force=True)
            UserIndexState.objects.filter(user_id=user_id).update(reindex_done=F("reindex_done") + 1)
            if progress:
                progress()
    write_snapshot(user_id, compact=True)
    UserIndexState.objects.filter(user_id=user_id).update(reindex_state="done")
    return total


def reconcile(grace_seconds: float | None = None) -> int:
    """Re-enqueue every stale source and erase orphans; returns how many were enqueued."""
    from workers.tasks.indexing import index_note, index_paper

    from search.receivers import enqueue

    indexing.remove_orphans()
    stale = indexing.stale_sources(grace_seconds)
    for kind, object_id in stale:
        enqueue(index_note if kind == Passage.NOTE else index_paper, object_id)
    if stale:
        log.info("search reconcile: re-enqueued %d stale sources", len(stale))
    return len(stale)


def snapshot_all() -> int:
    """Write a fresh snapshot for every user whose index moved since the last one."""
    written = 0
    for user_id, seq in UserIndexState.objects.values_list("user_id", "seq"):
        if snapshot_info(user_id)["seq"] != seq:
            write_snapshot(user_id)
            written += 1
    return written
