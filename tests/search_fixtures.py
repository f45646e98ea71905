"""A small collection for tests of search by meaning: four notes on unrelated topics, and for
each a query that finds it in other words than its own."""

import json
from pathlib import Path

import pytest

from notes.models import Note
from search import hnsw, indexing, services

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


def load_corpus(user) -> dict[str, Note]:
    """The 235-note corpus as the user's notes, indexed through the real pipeline (passages,
    the embedding model, vectors in the database); notes by title."""
    notes = {}
    for entry in corpus_entries():
        note = Note.objects.create_note(user, title=entry["title"], body=entry["body"])
        indexing.index_note(note.pk)
        notes[note.title] = note
    return notes
