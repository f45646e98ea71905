"""Bulk work: re-embedding a user's collection, reconciling, periodic snapshots and pruning.

A re-index, a reconcile pass and indexing itself all drive a model switch (see
search/indexing.py) to completion. The periodic snapshot task writes a snapshot of the
model each user searches with (and, during a switch, of the model being switched to, so
searches have one the moment it becomes active), then prunes tombstones older than
TOMBSTONE_RETENTION_SECONDS that every such snapshot covers, recording the position in
UserIndexState.pruned_seq (an in-memory index behind it reloads instead of catching up).
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q
from django.db.models.functions import Least
from django.utils import timezone

from notes.models import Note, Paper
from search import indexing, keyword_index, staleness
from search.hnsw import models_in_use, snapshot_info, write_snapshot
from search.models import Passage, Tombstone, UserIndexState

log = logging.getLogger(__name__)
# Long enough that a process idle for a while catches up instead of reloading its index.
TOMBSTONE_RETENTION_SECONDS = 3600
# A requested re-index runs as batches of about this long, each queued behind every save
# once the last ends: a save waits for at most one batch, not for the whole collection.
BATCH_SECONDS = 0.2
# A re-index's steps besides "note" and "paper" (Passage.NOTE, Passage.PAPER, by last id).
START, FINISH = "start", "finish"


def reindex_user(user_id: int, progress=None) -> int:
    """Rebuild the user's keyword index, re-embed every note and paper of the user with the
    configured model (finishing a model switch), then write a compacted snapshot: what the
    search.reindex_* tasks do in batches, in one go."""
    mark_requested(user_id)
    total = start_reindex(user_id)
    step = (Passage.NOTE, 0)
    while step and step[0] != FINISH:
        step = reindex_batch(user_id, *step, seconds=float("inf"), progress=progress)
    finish_reindex(user_id)
    return total


def mark_requested(user_id: int) -> None:
    """Show a re-index running from its first step (the keyword rebuild), with how many
    notes and papers it re-embeds."""
    total = Note.objects.filter(user_id=user_id).count() + Paper.objects.filter(user_id=user_id).count()
    UserIndexState.objects.get_or_create(user_id=user_id)
    UserIndexState.objects.filter(user_id=user_id).update(
        reindex_state="running", reindex_total=total, reindex_done=0, reindex_step=START, reindex_after=0,
        reindex_moved=timezone.now())


def _at(user_id: int, step: str, after_id: int = 0):
    """The user's re-index, if it runs and is at this step."""
    return UserIndexState.objects.filter(user_id=user_id, reindex_state="running", reindex_step=step, reindex_after=after_id)


def _move(user_id: int, step: str, after_id: int, to: tuple[str, int]) -> tuple[str, int] | None:
    """Record that the re-index moved from (step, after_id) on to `to`; None when it was no
    longer there (another copy of this step moved it first, or it was cancelled)."""
    moved = _at(user_id, step, after_id).update(reindex_step=to[0], reindex_after=to[1], reindex_moved=timezone.now())
    return to if moved else None


def start_reindex(user_id: int) -> int | None:
    """Rebuild the user's keyword index; returns how many sources the re-index re-embeds, or
    None when it is not at its start (the step ran already, or the account is gone)."""
    total = _at(user_id, START).values_list("reindex_total", flat=True).first()
    if total is None:
        return None
    keyword_index.rebuild(user_id)
    return total if _move(user_id, START, 0, (Passage.NOTE, 0)) else None


def reindex_batch(user_id: int, kind: str, after_id: int, *, seconds: float = BATCH_SECONDS,
                  progress=None) -> tuple[str, int] | None:
    """Re-embed the user's notes (kind "note") or papers after id `after_id`, in id order,
    for about `seconds`; returns the next step, or None when the re-index was not at this
    one (a second copy of a step, queued again by reconcile, does nothing).

    A source that cannot be embedded is recorded as failed (the status page lists it,
    reconcile retries it) and the re-index goes on without it."""
    if not _at(user_id, kind, after_id).exists():
        return None
    start = after_id
    model, index = (Note, indexing.index_note) if kind == Passage.NOTE else (Paper, indexing.index_paper)
    deadline = time.monotonic() + seconds
    while ids := list(model.objects.filter(user_id=user_id, pk__gt=after_id).order_by("pk").values_list("pk", flat=True)[:500]):
        for after_id in ids:
            try:
                index(after_id, force=True)
            except Exception as exc:
                log.warning("re-index of user %s: %s %s failed: %s", user_id, kind, after_id, exc)
                indexing.record_failure(kind, after_id, exc)
            # Sources saved during the re-index are re-embedded too: the count stops at the total.
            UserIndexState.objects.filter(user_id=user_id).update(reindex_done=Least(F("reindex_done") + 1, F("reindex_total")))
            if progress:
                progress()
            if time.monotonic() >= deadline:
                return _move(user_id, kind, start, (kind, after_id))
    return _move(user_id, kind, start, (Passage.PAPER, 0) if kind == Passage.NOTE else (FINISH, 0))


def finish_reindex(user_id: int) -> bool:
    """Finish a model switch the re-index completed, write a compacted snapshot, show it
    done; False when the re-index is not at its last step."""
    if not _at(user_id, FINISH).exists():
        return False
    indexing.finish_switch(user_id)
    write_snapshot(user_id, compact=True)
    _at(user_id, FINISH).update(reindex_state="done", reindex_done=F("reindex_total"), reindex_step="", reindex_moved=timezone.now())
    return True


def stalled_reindexes() -> list[tuple[int, str, int]]:
    """(user, step, after id) of every re-index that has not moved on for
    SEARCH_REINDEX_STALL_SECONDS, each marked as moved now so the next pass waits as long
    before resuming it again."""
    now = timezone.now()
    since = now - timedelta(seconds=settings.SEARCH_REINDEX_STALL_SECONDS)
    stalled = Q(reindex_moved__lte=since) | Q(reindex_moved__isnull=True)
    resumed = []
    for user_id, step, after_id in UserIndexState.objects.filter(stalled, reindex_state="running").values_list(
            "user_id", "reindex_step", "reindex_after"):
        # Only if no other pass resumed it meanwhile.
        if _at(user_id, step, after_id).filter(stalled).update(reindex_moved=now):
            resumed.append((user_id, step, after_id))
    return resumed


def reconcile(grace_seconds: float | None = None) -> int:
    """Re-enqueue every stale source (a source of another model than the configured one
    included), erase orphans, resume stalled re-indexes and finish model switches that are
    complete; returns how many sources were enqueued."""
    from search.tasks import index_note, index_paper, queue_reindex_step

    from search.receivers import BACKGROUND, enqueue

    staleness.remove_orphans()
    stale = staleness.stale_sources(grace_seconds)
    for kind, object_id in stale:
        enqueue(index_note if kind == Passage.NOTE else index_paper, object_id, priority=BACKGROUND)
    if stale:
        log.info("search reconcile: re-enqueued %d stale sources", len(stale))
    for user_id, step, after_id in stalled_reindexes():
        log.info("search reconcile: re-index of user %s resumes at %s %s", user_id, step, after_id)
        try:
            queue_reindex_step(user_id, step, after_id)
        except Exception:  # marked as moved: tried again after another stall window
            log.warning("search reconcile: could not queue the re-index of user %s", user_id, exc_info=True)
    indexing.finish_switches()
    return len(stale)


def users_behind() -> list[tuple[int, str]]:
    """(user, model) of every snapshot in use that is behind its user's index position:
    what the periodic snapshot pass hands to the index writer, one task per user."""
    return [
        (user_id, model)
        for user_id, seq in UserIndexState.objects.values_list("user_id", "seq").iterator()
        for model in models_in_use.in_use(user_id)
        if snapshot_info(user_id, model)["seq"] != seq
    ]


def snapshot_user(user_id: int, model: str | None = None) -> dict:
    """Bring one user's snapshot up to date, then prune the tombstones it covers."""
    report = write_snapshot(user_id, model)
    prune_tombstones(user_id)
    return report


def snapshot_all() -> int:
    """Write a fresh snapshot of every user's index that moved since the last one, then
    prune the tombstones the snapshots cover; returns how many snapshots were written."""
    behind = users_behind()
    for user_id, model in behind:
        snapshot_user(user_id, model)
    return len(behind)


def prune_tombstones(user_id: int, retention_seconds: float | None = None) -> int:
    """Delete the user's tombstones older than the retention and at or below the position
    of every snapshot in use; returns the new pruned position (0 when nothing was pruned)."""
    covered = min(snapshot_info(user_id, model)["seq"] for model in models_in_use.in_use(user_id))
    retention = TOMBSTONE_RETENTION_SECONDS if retention_seconds is None else retention_seconds
    old_enough = timezone.now() - timedelta(seconds=retention)
    upto = Tombstone.objects.filter(user_id=user_id, seq__lte=covered, created__lte=old_enough).aggregate(s=Max("seq"))["s"]
    if not upto:
        return 0
    with transaction.atomic():
        state = UserIndexState.objects.select_for_update().get(user_id=user_id)
        if upto <= state.pruned_seq:
            return 0
        state.record_prune(upto)
        Tombstone.objects.filter(user_id=user_id, seq__lte=upto).delete()
    return upto
