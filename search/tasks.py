"""Search indexing tasks: queue `embed` (making vectors), and `index` (the index writer:
snapshots, and reconcile) with a worker of its own.

Each task re-reads its row by id and is safe to run twice (acks late: a task whose
worker died runs again). Failures are recorded for the status page and retried with
backoff; the reconcile task picks up whatever is still stale after that (sources of a
model other than the configured one included) and finishes model switches that are
complete. The snapshot task also prunes old tombstones its snapshots cover.
"""

from celery import shared_task

from search import hnsw, indexing, reindex
from search.models import Passage
from search.receivers import BACKGROUND

RETRY = dict(autoretry_for=(Exception,), retry_backoff=2, retry_backoff_max=300, retry_jitter=True, max_retries=8)


@shared_task(name="search.index_note", queue="embed", acks_late=True, **RETRY)
def index_note(note_id: int) -> str:
    try:
        return indexing.index_note(note_id)
    except Exception as exc:
        indexing.record_failure(Passage.NOTE, note_id, exc)
        raise


@shared_task(name="search.index_paper", queue="embed", acks_late=True, **RETRY)
def index_paper(paper_id: int) -> str:
    try:
        return indexing.index_paper(paper_id)
    except Exception as exc:
        indexing.record_failure(Passage.PAPER, paper_id, exc)
        raise


@shared_task(name="search.remove_note", queue="embed", acks_late=True, **RETRY)
def remove_note(note_id: int) -> None:
    indexing.remove_note(note_id)


@shared_task(name="search.remove_paper", queue="embed", acks_late=True, **RETRY)
def remove_paper(paper_id: int) -> None:
    indexing.remove_paper(paper_id)


# A requested re-index: a start, batches on `embed` that each queue the next behind every
# save, and the snapshot on `index`. Each step records where the re-index goes on from, and
# does nothing unless the re-index is at that step (the account gone, or a second copy).
@shared_task(name="search.reindex_user", queue="embed", acks_late=True, **RETRY)
def reindex_user(user_id: int) -> None:
    if reindex.start_reindex(user_id) is not None:
        queue_reindex_step(user_id, Passage.NOTE, 0)


@shared_task(name="search.reindex_batch", queue="embed", acks_late=True, **RETRY)
def reindex_batch(user_id: int, kind: str, after_id: int) -> None:
    if step := reindex.reindex_batch(user_id, kind, after_id):
        queue_reindex_step(user_id, *step)


@shared_task(name="search.finish_reindex", queue="index", acks_late=True, **RETRY)
def finish_reindex(user_id: int) -> None:
    reindex.finish_reindex(user_id)


def queue_reindex_step(user_id: int, step: str, after_id: int) -> None:
    """Queue a re-index's step behind every save (raises when the broker is unreachable)."""
    if step == reindex.START:
        reindex_user.apply_async(args=(user_id,), priority=BACKGROUND)
    elif step == reindex.FINISH:
        finish_reindex.apply_async(args=(user_id,), priority=BACKGROUND)
    else:
        reindex_batch.apply_async(args=(user_id, step, after_id), priority=BACKGROUND)


# Reconcile and snapshots run on the `index` queue, a worker of their own: a sweep over a
# lab's users never holds up the `embed` worker that makes a save findable by meaning.
@shared_task(name="search.reconcile", queue="index", acks_late=True)
def reconcile() -> int:
    return reindex.reconcile()


@shared_task(name="search.snapshot_user", queue="index", acks_late=True, **RETRY)
def snapshot_user(user_id: int, model: str | None = None) -> dict:
    return reindex.snapshot_user(user_id, model)


@shared_task(name="search.snapshot_all", queue="index", acks_late=True)
def snapshot_all() -> int:
    """One task per user whose snapshot is behind, so each is short and a retry redoes one user."""
    from search.receivers import enqueue

    behind = reindex.users_behind()
    for user_id, model in behind:
        enqueue(snapshot_user, user_id, model)
    return len(behind)


@shared_task(name="search.drop_user_index", queue="index", acks_late=True, **RETRY)
def drop_user_index(user_id: int) -> None:
    """A deleted account's index files go with it (the index worker's host holds them)."""
    hnsw.drop_user(user_id)
