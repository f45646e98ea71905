"""Keeping passages and vectors in step with notes, snippets and papers.

Called by the tasks in search/tasks.py (and directly by tests and commands).
Every function re-reads its source, is safe to run twice, and never writes vectors of a
text that is no longer current: the embedding happens outside any transaction, then the
write re-checks the source's fingerprint under its row lock and gives up when a newer
save has landed (that save enqueued its own task, or reconcile will find it).

Model switch: new vectors are made with the configured model (EMBEDDING_MODEL). While it
differs from the user's active model (UserIndexState.active_model, what their searches
use), every source indexed gets the configured model's rows and keeps the active model's
rows alongside, brought up to its current text (changed passages embedded with both), so
search answers from the full old collection meanwhile. Once every note and paper has the
configured model's vectors, `finish_switch` makes it the active model and removes the old
model's rows with tombstones. Indexing itself, reconcile and a re-index all get there.
"""

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import numpy as np
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from notes.models import Note, Paper, Snippet
from search import embedding, hnsw, keyword_index, keyword_terms, passages
from search.id_list import InIds
from search.models import IndexedSource, Passage, Tombstone, UserIndexState

log = logging.getLogger(__name__)


# What indexing a note covers: its body, its snippets and its runs' summaries.
NOTE_KINDS = [Passage.NOTE, Passage.SNIPPET, Passage.RUN]


@dataclass
class RunSummary:
    """A run of the note, as text to index with it (kind, params, metrics...)."""

    run_id: int
    text: str
    stamp: str  # changes whenever the text would


@dataclass
class RunSummarySource:
    """How indexing learns about runs without importing the app that owns them: that app
    registers one of these in its AppConfig.ready()."""

    for_note: Callable[[int], list[RunSummary]]
    last_changed: Callable[[], dict[int, datetime]]  # note id -> when its runs last changed


_run_sources: list[RunSummarySource] = []


def register_run_summaries(source: RunSummarySource) -> None:
    if source not in _run_sources:
        _run_sources.append(source)


def run_summary_sources() -> list[RunSummarySource]:
    return list(_run_sources)


def _run_summaries(note_id: int) -> list[RunSummary]:
    return [summary for source in _run_sources for summary in source.for_note(note_id)]


@dataclass
class Wanted:
    kind: str
    piece: passages.Piece
    snippet_id: int | None = None
    paper_id: int | None = None
    run_id: int | None = None
    offsets_in_body: bool = True

    def hash(self, model: str) -> str:
        return passages.content_hash(model, self.piece.context, self.piece.text)


def note_fingerprint(note: Note) -> str:
    """The note version, its searchable flag, and a digest of its snippets and run summaries."""
    snippets = Snippet.objects.filter(note_id=note.pk).order_by("pk").values_list("pk", "updated")
    parts = [(pk, updated.isoformat()) for pk, updated in snippets]
    parts += [("run", s.run_id, s.stamp) for s in _run_summaries(note.pk)]
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:16]
    return f"{note.version}:{int(note.searchable)}:{digest}"


def paper_fingerprint(paper: Paper) -> str:
    return paper.updated.isoformat()


def _note_pieces(note: Note) -> list[Wanted]:
    wanted = [Wanted(Passage.NOTE, p) for p in passages.split(note.title, note.body)]
    if not wanted:
        # A note that is only a title is still findable by it.
        wanted = [Wanted(Passage.NOTE, passages.Piece(-1, -1, "", note.title), offsets_in_body=False)]
    for snippet in Snippet.objects.filter(note_id=note.pk).order_by("position", "pk"):
        text = "\n".join(t for t in (snippet.text, snippet.locator, snippet.comment, snippet.url) if t.strip())
        for piece in passages.split_plain(note.title, text) if text.strip() else []:
            wanted.append(Wanted(Passage.SNIPPET, piece, snippet_id=snippet.pk, offsets_in_body=False))
    for summary in _run_summaries(note.pk):
        for piece in passages.split_plain(note.title, summary.text):
            wanted.append(Wanted(Passage.RUN, piece, run_id=summary.run_id, offsets_in_body=False))
    return wanted


def _paper_pieces(paper: Paper) -> list[Wanted]:
    pieces = passages.split_plain(paper.title, paper.abstract) if paper.abstract.strip() else []
    if not pieces:
        pieces = [passages.Piece(-1, -1, "", paper.title)]
    return [Wanted(Passage.PAPER, p, paper_id=paper.pk, offsets_in_body=False) for p in pieces]


def _vectors_for(user_id: int, wanted: list[Wanted], existing: dict[str, bytes], model: str, reuse: bool = True) -> dict[str, bytes]:
    """Vector bytes per content hash: reused from this source, from any identical passage
    of the same user, and only the rest embedded (in one batch)."""
    vectors = dict(existing)
    missing = {w.hash(model): w for w in wanted if w.hash(model) not in vectors}
    if missing and reuse:
        for h, vector in (
            Passage.objects.filter(user_id=user_id, model=model, content_hash__in=list(missing))
            .exclude(vector=None)
            .values_list("content_hash", "vector")
        ):
            vectors[h] = bytes(vector)
    todo = [(h, w) for h, w in missing.items() if h not in vectors]
    if todo:
        matrix = embedding.embed([w.piece.embedding_text() for _, w in todo], model=model)
        for (h, _), row in zip(todo, matrix):
            vectors[h] = np.asarray(row, dtype=np.float32).tobytes()
    return vectors


def _lock_position(user_id: int) -> UserIndexState:
    UserIndexState.objects.get_or_create(user_id=user_id)
    return UserIndexState.objects.select_for_update().get(user_id=user_id)


def _bump(user_id: int) -> int:
    """Take the user's next index position (the row lock is held until commit)."""
    state = _lock_position(user_id)
    state.seq += 1
    state.save(update_fields=["seq"])
    return state.seq


def _sync(
    user_id: int, rows_filter: Q, wanted: list[Wanted], vectors: dict[str, bytes] | None, model: str, note_id=None,
    text_only: bool = False,
) -> int:
    """Make the passages matching rows_filter equal `wanted` (inside a transaction): rows
    whose text is unchanged stay (offsets updated), others are deleted with a tombstone,
    new ones are added at a fresh index position. Returns how many rows changed.
    `text_only` (the save itself, for keyword search at once) accepts any row with the
    same text, with or without a vector, and adds rows without vectors."""
    existing: dict[str, list[Passage]] = {}
    for row in Passage.objects.filter(rows_filter).order_by("pk"):
        existing.setdefault(row.content_hash, []).append(row)
    keep, create = [], []
    for w in wanted:
        h = w.hash(model)
        rows = existing.get(h)
        has_vector = vectors is not None
        if rows and (text_only or ((rows[0].vector is not None) == has_vector and rows[0].model == (model if has_vector else ""))):
            row = rows.pop(0)
            if (row.start, row.end, row.snippet_id, row.run_id) != (w.piece.start, w.piece.end, w.snippet_id, w.run_id):
                row.start, row.end, row.snippet_id, row.run_id = w.piece.start, w.piece.end, w.snippet_id, w.run_id
                keep.append(row)
        else:
            create.append((w, h))
    stale = [row for rows in existing.values() for row in rows]
    if keep:
        Passage.objects.bulk_update(keep, ["start", "end", "snippet_id", "run_id"])
    if not stale and not create:
        return len(keep)
    seq = _bump(user_id)
    now = timezone.now()
    if create:
        keyword_index.ensure(user_id)  # before the user's first passage: its triggers index it
    if stale:
        _tombstone(user_id, seq, [row.pk for row in stale if row.vector is not None])
        Passage.objects.filter(InIds(F("pk"), [row.pk for row in stale])).delete()
    terms = keyword_terms.to_store([(w.piece.context, w.piece.text) for w, _ in create])
    Passage.objects.bulk_create(
        [
            Passage(
                user_id=user_id, kind=w.kind, note_id=note_id, paper_id=w.paper_id, snippet_id=w.snippet_id,
                run_id=w.run_id, start=w.piece.start, end=w.piece.end, context=w.piece.context, text=w.piece.text, content_hash=h,
                terms=counts, vector=vectors[h] if vectors is not None else None, model=model if vectors is not None else "",
                embedded_at=now if vectors is not None else None, seq=seq,
            )
            for (w, h), counts in zip(create, terms)
        ],
        batch_size=500,
    )
    return len(keep) + len(stale) + len(create)


def _existing_vectors(rows_filter: Q, model: str) -> dict[str, bytes]:
    return {
        h: bytes(v)
        for h, v in Passage.objects.filter(rows_filter, model=model).exclude(vector=None).values_list("content_hash", "vector")
    }


def _mark_indexed(user_id: int, kind: str, object_id: int, fingerprint: str, model: str) -> None:
    IndexedSource.objects.update_or_create(
        kind=kind, object_id=object_id,
        defaults=dict(
            user_id=user_id, fingerprint=fingerprint, state=IndexedSource.INDEXED, error="", attempts=0,
            model=model, embedded_at=timezone.now(), updated=timezone.now(),
        ),
    )


def switching_from(user_id: int) -> str | None:
    """The user's active model while a switch to the configured model is in progress."""
    active = embedding.active_model(user_id)
    return None if active == embedding.model_name() else active


def _embed(user_id: int, rows: Q, wanted: list[Wanted], force: bool, old: str | None):
    """Vectors of the configured model and, during a switch, of the old (still active) one
    for the passages it lacks; None for the old model when its directory is gone."""
    model = embedding.model_name()
    vectors = _vectors_for(user_id, wanted, {} if force else _existing_vectors(rows, model), model, reuse=not force)
    if not old:
        return vectors, None
    try:
        return vectors, _vectors_for(user_id, wanted, _existing_vectors(rows, old), old)
    except embedding.ModelUnavailable:
        log.warning("search: active model %s is unavailable, its vectors of this source are dropped", old)
        return vectors, None


def _write(user_id: int, rows: Q, wanted: list[Wanted], vectors, old_vectors, planned_old, force: bool, note_id=None) -> None:
    """Inside the source's transaction: make its rows of the configured model (or its
    text-only rows) equal `wanted`, and during a switch its rows of the old model too. The
    switch state is re-read under the user's row lock, so a switch that finished meanwhile
    leaves no old rows behind."""
    state = _lock_position(user_id)
    model = embedding.model_name()
    active = state.active_model or embedding.active_model(user_id)
    old = active if active != model else None
    own = rows & ~Q(model=old) if old else rows
    if force:
        _sync(user_id, own, [], None, model, note_id)
    _sync(user_id, own, wanted, vectors, model, note_id)
    if old:
        fresh_old = old == planned_old and old_vectors is not None
        _sync(user_id, rows & Q(model=old), wanted if fresh_old else [], old_vectors, old, note_id)
    if not state.active_model:
        state.activate(active)


def _store(kind: str, source: Note | Paper, fingerprint: str, write: Callable[[], None], old: str | None) -> str:
    """Under the source's row lock, `write` its rows unless a newer save landed while we
    were embedding (that save has its own task) or the source was deleted (its rows go)."""
    owner, fingerprint_of, remove = (
        (Note, note_fingerprint, remove_note) if kind == Passage.NOTE else (Paper, paper_fingerprint, remove_paper)
    )
    with transaction.atomic():
        current = owner.objects.select_for_update().filter(pk=source.pk).first()
        if current is not None and fingerprint_of(current) != fingerprint:
            return "superseded"
        if current is not None:
            write()
            _mark_indexed(source.user_id, kind, source.pk, fingerprint, embedding.model_name())
    if current is None:
        remove(source.pk)
        return "gone"
    if old:
        finish_switch(source.user_id)
    return "indexed"


def index_note(note_id: int, *, force: bool = False) -> str:
    """Index a note's body, snippets and run summaries as they are now. Returns what happened."""
    note = Note.objects.filter(pk=note_id).first()
    if note is None:
        remove_note(note_id)
        return "gone"
    fingerprint = note_fingerprint(note)
    rows = Q(note_id=note_id, kind__in=NOTE_KINDS)
    wanted = _note_pieces(note)
    old = switching_from(note.user_id)
    vectors = old_vectors = None
    if note.searchable:
        vectors, old_vectors = _embed(note.user_id, rows, wanted, force, old)
    write = partial(_write, note.user_id, rows, wanted, vectors, old_vectors, old, force, note_id)
    return _store(Passage.NOTE, note, fingerprint, write, old)


def index_note_text(note_id: int) -> None:
    """Right after a save, in the saving process: the note's passages without vectors, so
    it is found by words at once (tokenizing only; the embedding comes from a worker).
    During a switch the old model's rows stay until the worker replaces them."""
    with transaction.atomic():
        note = Note.objects.select_for_update().filter(pk=note_id).first()
        if note is None:
            return
        rows = Q(note_id=note_id, kind__in=NOTE_KINDS)
        if old := switching_from(note.user_id):
            rows &= ~Q(model=old)
        _sync(note.user_id, rows, _note_pieces(note), None, embedding.model_name(), note_id, text_only=True)


def remove_note(note_id: int) -> None:
    """A deleted note: its passages (body and snippets) leave the index everywhere."""
    _remove(Q(note_id=note_id))
    IndexedSource.objects.filter(kind=Passage.NOTE, object_id=note_id).delete()


def index_paper(paper_id: int, *, force: bool = False) -> str:
    paper = Paper.objects.filter(pk=paper_id).first()
    if paper is None:
        remove_paper(paper_id)
        return "gone"
    fingerprint = paper_fingerprint(paper)
    rows = Q(paper_id=paper_id, kind=Passage.PAPER)
    wanted = _paper_pieces(paper)
    old = switching_from(paper.user_id)
    vectors, old_vectors = _embed(paper.user_id, rows, wanted, force, old)
    write = partial(_write, paper.user_id, rows, wanted, vectors, old_vectors, old, force)
    return _store(Passage.PAPER, paper, fingerprint, write, old)


def remove_paper(paper_id: int) -> None:
    _remove(Q(paper_id=paper_id, kind=Passage.PAPER))
    IndexedSource.objects.filter(kind=Passage.PAPER, object_id=paper_id).delete()


def _remove(rows_filter: Q) -> None:
    with transaction.atomic():
        by_user: dict[int, list[tuple[int, bool]]] = {}
        for pk, user_id, has_vector in Passage.objects.filter(rows_filter).values_list(
            "pk", "user_id", Q(vector__isnull=False)
        ):
            by_user.setdefault(user_id, []).append((pk, has_vector))
        for user_id, rows in by_user.items():
            seq = _bump(user_id)
            _tombstone(user_id, seq, [pk for pk, has_vector in rows if has_vector])
            # One parameter however many: a model switch erases a user's every old passage.
            Passage.objects.filter(InIds(F("pk"), [pk for pk, _ in rows])).delete()


def _tombstone(user_id: int, seq: int, pks: list[int]) -> None:
    """Tell every process's index to drop these passages' vectors. Rows without a vector
    (a save's words-only passages) were never in an index, so they need none: the status
    page would count them as deleted vectors not yet erased."""
    Tombstone.objects.bulk_create([Tombstone(user_id=user_id, passage_id=pk, seq=seq) for pk in pks])


def switch_progress(user_id: int, model: str) -> tuple[int, int]:
    """(sources with vectors of `model`, sources) of the user: notes and papers (a note's
    snippets and run summaries are indexed with it)."""
    notes = Note.objects.filter(user_id=user_id).values("pk")
    papers = Paper.objects.filter(user_id=user_id).values("pk")
    done = IndexedSource.objects.filter(user_id=user_id, model=model).filter(
        Q(kind=Passage.NOTE, object_id__in=notes) | Q(kind=Passage.PAPER, object_id__in=papers)
    )
    return done.count(), notes.count() + papers.count()


def finish_switch(user_id: int) -> bool:
    """Make the configured model the user's active one once every source has its vectors
    (or record it when none was recorded yet); the other models' vectors leave every
    process through tombstones. True when a switch finished."""
    model = embedding.model_name()
    with transaction.atomic():
        state = _lock_position(user_id)
        old = state.active_model or embedding.active_model(user_id)
        if old == model:
            if not state.active_model:
                state.activate(model)
            return False
        done, total = switch_progress(user_id, model)
        if done < total:
            return False
        state.activate(model)
        _remove(Q(user_id=user_id) & ~Q(model__in=[model, ""]))
    log.info("search: user %s switched from %s to %s", user_id, old, model)
    hnsw.drop_model(user_id, old)
    return True


def finish_switches() -> int:
    """finish_switch for every user whose active model is not the configured one."""
    pending = UserIndexState.objects.exclude(active_model=embedding.model_name()).values_list("user_id", flat=True)
    return sum(finish_switch(user_id) for user_id in list(pending))


def record_failure(kind: str, object_id: int, error: BaseException) -> None:
    """Shown on the status page; the task retries with backoff and reconcile tries again later."""
    owner = Note if kind == Passage.NOTE else Paper
    user_id = owner.objects.filter(pk=object_id).values_list("user_id", flat=True).first()
    if user_id is None:
        return
    source, _ = IndexedSource.objects.get_or_create(kind=kind, object_id=object_id, defaults={"user_id": user_id})
    source.state = IndexedSource.FAILED
    source.error = f"{type(error).__name__}: {error}"[:2000]
    source.attempts += 1
    source.updated = timezone.now()
    source.save(update_fields=["state", "error", "attempts", "updated"])
