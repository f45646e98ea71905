"""A small collection for tests of search by meaning: four notes on unrelated topics, and for
each a query that finds it in other words than its own."""

import json
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from notes.models import Note
from search import embedding, hnsw, indexing, passages, services

TEXTS = [
    ("Optimiser", "We lowered the learning rate after the loss exploded at step 3000."),
    ("Bread", "Sourdough needs a long cold proof in the fridge overnight."),
    ("Attention", "Self-attention lets every token look at every other token."),
    ("Graphs", "Message passing neural networks aggregate neighbour features."),
]
QUERIES = {
    "Optimiser": "training diverged so we reduced the step size",
    "Bread": "baking",
    "Attention": "transformer token mixing",
    "Graphs": "GNN",
}


def index_notes(user, snapshot=True) -> list[Note]:
    """Writes TEXTS as the user's notes and indexes them, then (unless told not to) writes the
    index snapshot, as the index writer would."""
    notes = []
    for title, body in TEXTS:
        note = Note.objects.create_note(user, title=title, body=body)
        indexing.index_note(note.pk)
        notes.append(note)
    if snapshot:
        hnsw.write_snapshot(user.pk)
    return notes


def semantic_results(user) -> list[list[tuple[int, float]]]:
    """For each query, its hits by meaning as (note id, score), to compare one index with another."""
    return [[(h.note_id, round(h.score, 4)) for h in services.search(user, query, mode="semantic").hits]
            for query in QUERIES.values()]


SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = SHARED / "data" / "notes-corpus.json"
DEV_QUESTIONS = [SHARED / "eval" / "dev-queries.json", SHARED / "eval" / "dev-queries-2.json"]


def corpus_entries() -> list[dict]:
    if not CORPUS.exists():
        pytest.skip(f"the corpus is not at {CORPUS}")
    return json.loads(CORPUS.read_text())


def dev_questions() -> list[dict]:
    return [q for path in DEV_QUESTIONS if path.exists() for q in json.loads(path.read_text())]


# Vectors the real model gave for each text, kept for the test process: every test that loads
# the corpus then pays for one batched embedding run instead of one per note and module.
_vectors: dict[tuple[str, str], np.ndarray] = {}


@contextmanager
def _embedding_once():
    real = embedding.embed

    def embed(texts, batch_size=None, model=None):
        name = model or embedding.model_name()
        todo = list(dict.fromkeys(t for t in texts if (name, t) not in _vectors))
        if todo:
            for text, row in zip(todo, real(todo, batch_size=batch_size, model=model)):
                _vectors[(name, text)] = row
        return np.stack([_vectors[(name, t)] for t in texts]) if texts else real(texts, batch_size=batch_size, model=model)

    with mock.patch.object(embedding, "embed", embed):
        yield embed


def load_corpus(user) -> dict[str, Note]:
    """The 235-note corpus as the user's notes, indexed through the real pipeline (passages,
    the embedding model, vectors in the database); notes by title."""
    entries = corpus_entries()
    notes = {}
    with _embedding_once() as embed:
        embed([p.embedding_text() for e in entries for p in passages.split(e["title"], e["body"])])
        for entry in entries:
            note = Note.objects.create_note(user, title=entry["title"], body=entry["body"])
            indexing.index_note(note.pk)
            notes[note.title] = note
    return notes
