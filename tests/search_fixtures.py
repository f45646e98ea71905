"""A small collection for tests of search by meaning: four notes on unrelated topics, and for
each a query that finds it in other words than its own."""

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
