"""Passages and their vectors (the source of truth the HNSW index is derived from),
per-source indexing state, per-user index positions, tombstones and dismissals."""

import numpy as np
from django.conf import settings
from django.db import models
from django.utils import timezone

DIMENSIONS = 384


class Passage(models.Model):
    """A piece of a note body, a paper (title + abstract) or a snippet, small enough for the
    model to read whole (<= 256 word pieces with the title carried in)."""

    NOTE, PAPER, SNIPPET, RUN = "note", "paper", "snippet", "run"
    KIND_CHOICES = [(NOTE, "Note"), (PAPER, "Paper"), (SNIPPET, "Snippet"), (RUN, "Run summary")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=KIND_CHOICES)
    # No database-level cascade: deleting a source leaves its passages to the indexing task,
    # which removes them and writes tombstones so every process drops the vectors.
    note = models.ForeignKey(
        "notes.Note", null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    paper = models.ForeignKey(
        "notes.Paper", null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    snippet = models.ForeignKey(
        "notes.Snippet", null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    # A run summary's run (an id, not a key: runs belong to the workers app, which feeds
    # their summaries in as part of the note, see indexing.register_note_attachments).
    run_id = models.BigIntegerField(null=True)
    # Character offsets in the note body (highlighting, scroll-to); -1 when not from a body.
    start = models.IntegerField(default=-1)
    end = models.IntegerField(default=-1)
    context = models.TextField(blank=True, help_text="Title (and heading) carried into the passage.")
    text = models.TextField()
    content_hash = models.CharField(max_length=64)
    # SQLite: the passage's token counts as FTS5 makes them (search/keyword_terms.py); NULL
    # on PostgreSQL and where not made yet. (Nullable so that adding it was an ALTER TABLE:
    # SQLite's table rebuild would have dropped the users' keyword index triggers.)
    terms = models.TextField(null=True)
    # Float32 little-endian, DIMENSIONS long, L2-normalised; NULL for a "don't index" note
    # (still found by words, never by meaning).
    vector = models.BinaryField(null=True)
    model = models.CharField(max_length=300, blank=True)
    embedded_at = models.DateTimeField(null=True)
    # The owner's index position (UserIndexState.seq) of the commit that added this vector.
    seq = models.BigIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["user", "seq"]),
            models.Index(fields=["note"]),
            models.Index(fields=["paper"]),
            models.Index(fields=["user", "content_hash"]),
        ]

    def __str__(self):
        return f"{self.kind} passage {self.pk}"

    def embedding_text(self) -> str:
        return f"{self.context}\n{self.text}" if self.context else self.text

    def vector_array(self) -> np.ndarray | None:
        return None if self.vector is None else np.frombuffer(bytes(self.vector), dtype=np.float32)


class IndexedSource(models.Model):
    """Where indexing of one note (body + snippets) or paper stands."""

    PENDING, INDEXED, FAILED = "pending", "indexed", "failed"
    STATE_CHOICES = [(PENDING, "Pending"), (INDEXED, "Indexed"), (FAILED, "Failed")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=[(Passage.NOTE, "Note"), (Passage.PAPER, "Paper")])
    object_id = models.BigIntegerField()
    # What was indexed: the note version and snippet fingerprint, or the paper's update time.
    fingerprint = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=8, choices=STATE_CHOICES, default=PENDING)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    model = models.CharField(max_length=300, blank=True)
    embedded_at = models.DateTimeField(null=True)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "object_id"], name="indexedsource_unique")]
        indexes = [models.Index(fields=["user", "kind"])]


class UserIndexState(models.Model):
    """The owner's index position: bumped (under a row lock) by every commit that adds or
    removes vectors, so commits of one user are totally ordered and a reader that has seen
    position N has seen every vector committed at or before N."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+")
    seq = models.BigIntegerField(default=0)
    # The model whose vectors this user's searches use; blank = the configured one. After
    # EMBEDDING_MODEL changes, search keeps answering from this model's vectors until every
    # source has the new model's vectors, then it switches.
    active_model = models.CharField(max_length=300, blank=True)
    # Tombstones at or below this position have been pruned: an in-memory index older than
    # it cannot catch up from the database and is reloaded instead.
    pruned_seq = models.BigIntegerField(default=0)
    reindex_state = models.CharField(max_length=8, default="idle")
    reindex_total = models.PositiveIntegerField(default=0)
    reindex_done = models.PositiveIntegerField(default=0)
    # Where a running re-index goes on from (a step of search/reindex.py, and for "note" and
    # "paper" the last id done) and when it last moved: a chain whose next step was lost
    # (a Redis restart) or failed every retry resumes from here instead of stopping.
    reindex_step = models.CharField(max_length=8, blank=True)
    reindex_after = models.BigIntegerField(default=0)
    reindex_moved = models.DateTimeField(null=True)

    def activate(self, model: str) -> None:
        """Make `model` the one this user's searches use (the row is locked by the caller)."""
        self.active_model = model
        self.save(update_fields=["active_model"])

    def record_prune(self, seq: int) -> None:
        """Tombstones up to `seq` are about to go (the row is locked by the caller)."""
        self.pruned_seq = seq
        self.save(update_fields=["pruned_seq"])


class Tombstone(models.Model):
    """A vector removed at position `seq`: every process marks it deleted in its index."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    passage_id = models.BigIntegerField()
    seq = models.BigIntegerField()
    # Pruned once older than the retention and covered by the user's snapshot.
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "seq"])]


class DismissedRelated(models.Model):
    """A related-note suggestion the user dismissed; it stays dismissed."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    note = models.ForeignKey("notes.Note", on_delete=models.CASCADE, related_name="+")
    other = models.ForeignKey("notes.Note", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["note", "other"], name="dismissedrelated_unique")]
