"""What reconcile must index again or erase: sources whose passages are missing or out of
date, and passages whose note or paper is gone. Set-based: the database finds them (an
anti-join, or batches of ids far below any variable limit), so a pass over a lab's years
of notes reads no table into this process. search/reindex.py's reconcile acts on them."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Case, CharField, Exists, OuterRef, Value, When
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from notes.models import Note, Paper, Snippet
from search import embedding, indexing
from search.models import IndexedSource, Passage


def stale_sources(grace_seconds: float | None = None, limit: int = 1000) -> list[tuple[str, int]]:
    """Notes and papers whose passages are missing or out of date (saved while Redis or
    every worker was down, or failed), untouched for `grace_seconds`, oldest first, at most
    `limit` of them.

    Set-based: the database compares each source with its IndexedSource row (and a note's
    snippets with when it was embedded) and returns only the stale ones, so a pass over a
    lab's years of notes reads no table into this process and binds no list of ids."""
    grace = settings.SEARCH_RECONCILE_GRACE_SECONDS if grace_seconds is None else grace_seconds
    cutoff = timezone.now() - timedelta(seconds=grace)
    given_up = settings.SEARCH_MAX_ATTEMPTS * 4
    # A source embedded by another model than the configured one is stale too.
    indexed = IndexedSource.objects.filter(
        object_id=OuterRef("pk"), state=IndexedSource.INDEXED, model__in=[embedding.model_name(), ""]
    )
    notes = (
        Note.objects.filter(updated__lte=cutoff)
        .annotate(wanted_prefix=Concat(
            Cast("version", CharField()), Value(":"), Case(When(searchable=True, then=Value("1")), default=Value("0")),
            Value(":"), output_field=CharField(),
        ))
        .exclude(Exists(indexed.filter(
            kind=Passage.NOTE, fingerprint__startswith=OuterRef("wanted_prefix"),
        ).exclude(
            # A snippet saved after the note was embedded (its own enqueue was lost).
            Exists(Snippet.objects.filter(note_id=OuterRef(OuterRef("pk")), updated__gt=OuterRef("embedded_at")))
        )))
        .exclude(Exists(IndexedSource.objects.filter(kind=Passage.NOTE, object_id=OuterRef("pk"), attempts__gte=given_up)))
        .order_by("updated", "pk")
        .values_list("pk", flat=True)
    )
    out = [(Passage.NOTE, pk) for pk in notes[:limit]]
    out += _notes_with_newer_runs(cutoff, limit - len(out), exclude={pk for _, pk in out})
    out += _stale_papers(cutoff, given_up, limit - len(out))
    return out


BATCH = 500  # ids per query where a list of ids must be bound (far below any variable limit)


def _chunks(items: list, size: int = BATCH):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _notes_with_newer_runs(cutoff, limit: int, exclude: set[int]) -> list[tuple[str, int]]:
    """Notes a run of which ended after the note was embedded (the run's own enqueue was
    lost). A run source answers with one row per note that has ended runs; those notes are
    compared with their IndexedSource rows a batch at a time."""
    out: list[tuple[str, int]] = []
    for source in indexing.run_summary_sources():
        changed = source.last_changed()
        for batch in _chunks(sorted(set(changed) - exclude)):
            if len(out) >= limit:
                return out[:limit]
            embedded = dict(
                IndexedSource.objects.filter(
                    kind=Passage.NOTE, object_id__in=batch, attempts__lt=settings.SEARCH_MAX_ATTEMPTS * 4
                ).values_list("object_id", "embedded_at")
            )
            old_enough = set(Note.objects.filter(pk__in=batch, updated__lte=cutoff).values_list("pk", flat=True))
            for note_id in batch:
                when = embedded.get(note_id)
                if note_id in old_enough and when and changed[note_id] > when:
                    out.append((Passage.NOTE, note_id))
                    exclude.add(note_id)
    return out[: max(0, limit)]


def _stale_papers(cutoff, given_up: int, limit: int) -> list[tuple[str, int]]:
    """Papers not indexed at their current update time, walked in primary-key ranges of
    BATCH (a paper's fingerprint is its update time as text, which SQL cannot compare
    portably with the column)."""
    out: list[tuple[str, int]] = []
    after = 0
    model = embedding.model_name()
    while len(out) < limit:
        batch = list(
            Paper.objects.filter(pk__gt=after, updated__lte=cutoff).order_by("pk").values_list("pk", "updated")[:BATCH]
        )
        if not batch:
            break
        indexed = {
            object_id: rest
            for object_id, *rest in IndexedSource.objects.filter(
                kind=Passage.PAPER, object_id__gte=batch[0][0], object_id__lte=batch[-1][0]
            ).values_list("object_id", "fingerprint", "state", "attempts", "model")
        }
        for pk, updated in batch:
            fingerprint, state, attempts, source_model = indexed.get(pk, ("", "", 0, ""))
            fresh = fingerprint == updated.isoformat() and state == IndexedSource.INDEXED and source_model in (model, "")
            if not fresh and attempts < given_up:
                out.append((Passage.PAPER, pk))
        after = batch[-1][0]
    return out[: max(0, limit)]


def remove_orphans(limit: int = 1000) -> int:
    """Passages whose note or paper is gone (deleted while no worker listened), found by an
    anti-join in the database, at most `limit` sources a pass."""
    gone_notes = list(
        Passage.objects.exclude(note_id=None)
        .exclude(Exists(Note.objects.filter(pk=OuterRef("note_id"))))
        .order_by().values_list("note_id", flat=True).distinct()[:limit]
    )
    gone_papers = list(
        Passage.objects.filter(kind=Passage.PAPER)
        .exclude(Exists(Paper.objects.filter(pk=OuterRef("paper_id"))))
        .order_by().values_list("paper_id", flat=True).distinct()[: max(0, limit - len(gone_notes))]
    )
    for note_id in gone_notes:
        indexing.remove_note(note_id)
    for paper_id in gone_papers:
        indexing.remove_paper(paper_id)
    return len(gone_notes) + len(gone_papers)
