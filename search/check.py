"""Does the index agree with the database? Used by `manage.py check_index` and tests.

The index checked is the one the user's searches use (their active model). Every indexed,
unchanged source must have exactly its wanted passages in each model it has rows of (during
a model switch, the old and the new one), text-only rows counting as the source's model.
"""

from collections import Counter

from django.db.models import F

from notes.models import Note, Paper
from search import hnsw, indexing, keyword_index
from search.consistency import read_connection, repeatable_read
from search.embedding import active_model
from search.id_list import InIds
from search.models import IndexedSource, Passage


@repeatable_read()  # the index and the rows it is checked against, as of one instant
def check_user(user_id: int, limit: int = 50) -> dict:
    problems: list[str] = []
    model = active_model(user_id)
    vectors = set(
        Passage.objects.filter(user_id=user_id, model=model).exclude(vector=None).values_list("pk", flat=True)
    )
    # The index as a searching process would load it: the snapshot (if valid) plus the
    # database; without one, as the index writer would build it.
    index = hnsw.UserIndex.from_snapshot(user_id, model)
    if index is None or not index.catch_up():
        index = hnsw.UserIndex.from_database(user_id, model)
    live = set(index.live)
    if missing := vectors - live:
        problems.append(f"{len(missing)} vectors missing from the index, e.g. {sorted(missing)[:5]}")
    if extra := live - vectors:
        problems.append(f"{len(extra)} index entries with no passage, e.g. {sorted(extra)[:5]}")
    if problem := _keyword_problem(user_id):
        problems.append(problem)
    for source in ("note", "paper"):
        rows = Passage.objects.filter(user_id=user_id, **({"kind": "paper"} if source == "paper" else {"note__isnull": False}))
        by_object: dict[int, list[tuple[str, str]]] = {}
        for object_id, h, row_model in rows.values_list("paper_id" if source == "paper" else "note_id", "content_hash", "model"):
            by_object.setdefault(object_id, []).append((row_model, h))
        owner = Paper if source == "paper" else Note
        existing = set(owner.objects.filter(InIds(F("pk"), by_object)).values_list("pk", flat=True))
        for object_id in set(by_object) - existing:
            problems.append(f"passages of deleted {source} {object_id}")
        for obj in owner.objects.filter(user_id=user_id):
            indexed = _indexed(source, obj.pk)
            fingerprint = indexing.paper_fingerprint(obj) if source == "paper" else indexing.note_fingerprint(obj)
            if indexed is None or indexed[0] != fingerprint:
                continue  # not indexed yet, or changed since: its task (or reconcile) is on the way
            pieces = indexing._paper_pieces(obj) if source == "paper" else indexing._note_pieces(obj)
            if _rows_per_model(by_object.get(obj.pk, []), indexed[1]) != _wanted_per_model(pieces, by_object.get(obj.pk, []), indexed[1]):
                problems.append(f"{source} {obj.pk}: passages differ from its text")
            if len(problems) > limit:
                break
    return {"vectors": len(vectors), "index_live": len(live), "problems": problems}


def _keyword_problem(user_id: int) -> str | None:
    """SQLite: the user's keyword index holds exactly their passages (a missing one is
    created at their next search or write, so only a wrong one is a problem)."""
    connection = read_connection()
    if connection.vendor != "sqlite":
        return None
    indexed = keyword_index.indexed_count(connection, user_id)
    passages = Passage.objects.filter(user_id=user_id).count()
    if indexed is not None and indexed != passages:
        return f"keyword index holds {indexed} passages of {passages}"
    return None


def _indexed(kind: str, object_id: int) -> tuple[str, str] | None:
    """(fingerprint, model) the source was indexed at, or None."""
    return IndexedSource.objects.filter(kind=kind, object_id=object_id, state=IndexedSource.INDEXED).values_list(
        "fingerprint", "model"
    ).first()


def _rows_per_model(rows: list[tuple[str, str]], source_model: str) -> dict[str, Counter]:
    per_model: dict[str, Counter] = {source_model: Counter()}
    for row_model, h in rows:
        per_model.setdefault(row_model or source_model, Counter())[h] += 1
    return per_model


def _wanted_per_model(pieces, rows: list[tuple[str, str]], source_model: str) -> dict[str, Counter]:
    models = {source_model} | {row_model for row_model, _ in rows if row_model}
    return {m: Counter(w.hash(m) for w in pieces) for m in models}
