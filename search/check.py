"""Does the index agree with the database? Used by `manage.py check_index` and tests."""

from collections import Counter

from notes.models import Note, Paper
from search import hnsw, indexing
from search.embedding import model_name
from search.models import Passage


def check_user(user_id: int, limit: int = 50) -> dict:
    problems: list[str] = []
    model = model_name()
    vectors = set(
        Passage.objects.filter(user_id=user_id, model=model).exclude(vector=None).values_list("pk", flat=True)
    )
    # The index as a searching process would load it: the snapshot (if valid) plus the database.
    hnsw.forget(user_id)
    index = hnsw.get_index(user_id, model)
    live = set(index.live)
    if missing := vectors - live:
        problems.append(f"{len(missing)} vectors missing from the index, e.g. {sorted(missing)[:5]}")
    if extra := live - vectors:
        problems.append(f"{len(extra)} index entries with no passage, e.g. {sorted(extra)[:5]}")
    # Every passage of an indexed, unchanged source exists exactly once.
    for source in ("note", "paper"):
        rows = Passage.objects.filter(user_id=user_id, **({"kind": "paper"} if source == "paper" else {"note__isnull": False}))
        by_object: dict[int, Counter] = {}
        for object_id, h in rows.values_list("paper_id" if source == "paper" else "note_id", "content_hash"):
            by_object.setdefault(object_id, Counter())[h] += 1
        owner = Paper if source == "paper" else Note
        existing = set(owner.objects.filter(pk__in=by_object).values_list("pk", flat=True))
        for object_id in set(by_object) - existing:
            problems.append(f"passages of deleted {source} {object_id}")
        for obj in owner.objects.filter(user_id=user_id):
            pieces = indexing._paper_pieces(obj) if source == "paper" else indexing._note_pieces(obj)
            wanted = Counter(w.hash(model) for w in pieces)
            have = by_object.get(obj.pk, Counter())
            fresh = (
                indexing.paper_fingerprint(obj) if source == "paper" else indexing.note_fingerprint(obj)
            ) == _fingerprint(source, obj.pk)
            if fresh and have != wanted:
                problems.append(f"{source} {obj.pk}: passages differ from its text")
            if len(problems) > limit:
                break
    return {"vectors": len(vectors), "index_live": len(live), "problems": problems}


def _fingerprint(kind: str, object_id: int) -> str:
    from search.models import IndexedSource

    return IndexedSource.objects.filter(kind=kind, object_id=object_id, state=IndexedSource.INDEXED).values_list(
        "fingerprint", flat=True
    ).first() or ""
