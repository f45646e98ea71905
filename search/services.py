"""The search service: what pages, the API and commands call.

Keyword and semantic rankings of passages are fused at the note level (search/fusion.py,
constants chosen by cross-validation), and each hit shows the passage that did best overall. Everything is per user: candidates come from the user's own
index and keyword rows, and every hit is re-read from the database through its owner.
Semantic search and related notes use the user's active model (during a model switch,
the old one until the new one's vectors are complete; see search/indexing.py); when that
model's directory is gone, semantic search answers by words and the status says why.
A search and related notes read one consistent view of the database (search/consistency.py):
the passages they rank are the ones they read, whatever commits meanwhile.
"""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache

from django.conf import settings
from django.db.models import Count, F, Q
from django.urls import reverse
from django.utils import timezone

from notes.models import Note, NoteLink
from search import embedding, fusion, hnsw, indexing, kept_rankings, keyword, passages, query_vectors, reindex
from search.consistency import repeatable_read
from search.fusion import Group
from search.id_list import InIds
from search.models import DismissedRelated, IndexedSource, Passage, Tombstone, UserIndexState
from search.prepared import Prepared

MODES = ("hybrid", "semantic", "keyword")
KINDS = ("note", "paper", "snippet", "run")
MAX_QUERY_CHARS = 2000  # the model reads 256 word pieces; more text only costs time


@dataclass
class SearchFilters:
    tag: str | None = None
    paper_id: int | None = None
    date_from: date | None = None  # note created on/after
    date_to: date | None = None  # note created on/before
    kinds: tuple[str, ...] = KINDS

    def narrows(self) -> bool:
        """Whether these filters leave out anything the user's own rows would show."""
        return bool(self.tag or self.paper_id or self.date_from or self.date_to) or not set(KINDS) <= set(self.kinds)


@dataclass
class Hit:
    kind: str  # "note" | "paper" | "snippet" | "run"
    object_id: int  # the note / paper / snippet / run id
    note_id: int | None  # the note a click opens (None for a paper hit)
    title: str  # note title (paper title for a paper hit)
    passage: str  # best-matching passage, plain text
    passage_start: int  # char offsets of the passage in the note body; -1 when not from the body
    passage_end: int
    score: float
    url: str  # note URL + "#p-<start>" or "#snippet-<id>", the run page, or the paper URL
    tags: list[str] = field(default_factory=list)
    paper_id: int | None = None
    paper_title: str | None = None
    date: datetime | None = None
    # A paper hit carries the found notes about that paper beneath it, best first.
    notes: list["Hit"] = field(default_factory=list)


@dataclass
class SearchPage:
    hits: list[Hit]
    total: int
    mode: str  # "hybrid" | "semantic" | "keyword"
    took_ms: float


@dataclass
class Related:
    note: Note
    score: float
    source_passage: str  # the passage of THIS note that connects
    target_passage: str  # the passage of the related note


def _clean(query) -> str:
    # PostgreSQL refuses NUL in text; lone surrogates cannot be encoded at all.
    query = str(query or "")[:MAX_QUERY_CHARS].replace("\x00", " ")
    return query.encode("utf-8", "replace").decode("utf-8")


def semantic_passages(user_id: int, query: str, limit: int) -> list[tuple[int, float]]:
    """Passages nearest the query by meaning, in the user's active model (the old one until a
    model switch is complete); by words when that model's directory is gone (the status
    page says why), so a search never fails for it."""
    return _start_semantic(user_id, query, limit, _meaning_index(user_id))()


# Embedding the query (~5 ms) runs on a thread while the keyword query runs: ONNX Runtime and
# the database drivers release the GIL, so a hybrid search costs the longer of the two. A
# question asked before has its vector kept (search/query_vectors.py).
_query_embedder = ThreadPoolExecutor(max_workers=2, thread_name_prefix="embed-query")


def _meaning_index(user_id: int, state: tuple | None = None):
    """The user's index by meaning in their active model, or None where their searches answer
    by words: no snapshot to load yet (until the writer has built it), or the model's files
    are gone. `state`: the user's hnsw.position(), where already read."""
    try:
        index = hnsw.get_index(user_id, state)
    except hnsw.WarmingUp:
        return None
    return None if embedding.unavailable_reason(index.model) else index


def _start_semantic(user_id: int, query: str, limit: int, index) -> Callable[[], list[tuple[int, float]]]:
    """Start embedding the query for `index` (by words where there is none); the ranking,
    when called for, waits for it."""
    if index is None:
        return lambda: keyword.search_passages(user_id, query, limit)
    vector = _query_embedder.submit(query_vectors.query_vector, user_id, index.model, query)
    return lambda: index.query(vector.result(), limit)


def _filter_q(user, filters: SearchFilters) -> Q:
    """`user`: the user or their id."""
    kinds = [k for k in filters.kinds if k in KINDS] or list(KINDS)
    # Joining through the owner keeps out rows of deleted sources and anyone else's rows.
    # (No test of the passage's own user_id: SQLite would pick that index over the primary
    # key for the candidate ids and walk the user's every passage, 10x slower at 100k.)
    q = Q(kind__in=kinds) & (
        Q(kind=Passage.PAPER, paper__user=user) | Q(kind__in=indexing.NOTE_KINDS, note__user=user)
    )
    if filters.tag:
        q &= Q(note__tags__name=filters.tag.strip().lstrip("#").lower())
    if filters.paper_id:
        q &= Q(note__paper_id=filters.paper_id) | Q(kind=Passage.PAPER, paper_id=filters.paper_id)
    for bound, lookup in ((filters.date_from, "gte"), (filters.date_to, "lte")):
        if bound:
            q &= Q(kind=Passage.PAPER, **{f"paper__created__date__{lookup}": bound}) | Q(
                kind__in=indexing.NOTE_KINDS, **{f"note__created__date__{lookup}": bound}
            )
    return q


# What a hit shows, read as plain values: model instances with their related rows and
# prefetched tags cost twice the time for a page of hits.
HIT_FIELDS = (
    "pk", "kind", "text", "start", "end", "snippet_id", "run_id", "note_id", "note__title", "note__created",
    "note__paper_id", "note__paper__title", "paper_id", "paper__title", "paper__created",
)


_HIT_ROWS = Prepared(lambda ids: Passage.objects.filter(InIds(F("pk"), ids)).values_list(*HIT_FIELDS))
_HIT_TAGS = Prepared(
    lambda note_ids: Note.tags.through.objects.filter(InIds(F("note_id"), note_ids)).order_by("tag__name").values_list(
        "note_id", "tag__name"
    )
)

Entry = tuple[Group, float, list[tuple[Group, float]]]  # a group, its score, the notes beneath it


def _with_papers(ordered: list[tuple[Group, float]], about: dict[int, int]) -> list[Entry]:
    """One entry per thing the user thinks of: a found paper takes the found notes about it
    beneath it, at the place of the best of them (the research log often has both).
    `about`: the paper each candidate note is about, read with the candidates."""
    papers = {object_id for (kind, object_id), _ in ordered if kind == "paper"}
    note_paper = {note_id: paper_id for note_id, paper_id in about.items() if paper_id in papers}
    beneath: dict[int, list[tuple[Group, float]]] = {}
    for group, score in ordered:
        if group[0] == "note" and group[1] in note_paper:
            beneath.setdefault(note_paper[group[1]], []).append((group, score))
    entries: list[Entry] = []
    placed: set[int] = set()
    for group, score in ordered:
        paper_id = group[1] if group[0] == "paper" else note_paper.get(group[1])
        if paper_id is None or paper_id not in beneath:
            entries.append((group, score, []))  # a note about no found paper, or a paper alone
        elif paper_id not in placed:
            placed.add(paper_id)
            entries.append((("paper", paper_id), score, beneath[paper_id]))
    return entries


def _hits(page: list[Entry], best: dict[Group, int]) -> list[Hit]:
    """The page's hits, each showing its group's best passage (gone meanwhile: left out), a
    paper with its notes beneath."""
    wanted = [best[group] for group, _, notes in page for group in (group, *(note for note, _ in notes))]
    rows = {row[0]: dict(zip(HIT_FIELDS, row)) for row in _HIT_ROWS.rows(wanted)}
    tags: dict[int, list[str]] = {}
    for note_id, name in _HIT_TAGS.rows({row["note_id"] for row in rows.values() if row["note_id"]}):
        tags.setdefault(note_id, []).append(name)
    hits = []
    for group, score, notes in page:
        if best[group] not in rows:
            continue
        hit = _hit(rows[best[group]], score, tags)
        hit.notes = [_hit(rows[best[note]], note_score, tags) for note, note_score in notes if best[note] in rows]
        hits.append(hit)
    return hits


def _hit(p: dict, score: float, tags: dict[int, list[str]]) -> Hit:
    if p["kind"] == Passage.PAPER:
        paper_id, title = p["paper_id"], p["paper__title"]
        return Hit(
            kind="paper", object_id=paper_id, note_id=None, title=title, passage=p["text"], passage_start=-1,
            passage_end=-1, score=score, url=reverse("notes:paper", args=[paper_id]), paper_id=paper_id,
            paper_title=title, date=p["paper__created"],
        )
    note_id = p["note_id"]
    note_url = reverse("notes:note", args=[note_id])
    if p["kind"] == Passage.SNIPPET:
        kind, object_id, url, start, end = "snippet", p["snippet_id"], f"{note_url}#snippet-{p['snippet_id']}", -1, -1
    elif p["kind"] == Passage.RUN:
        # The run's own page (params, metrics, artifacts, a link back to the note): the note
        # page shows only its latest runs.
        kind, object_id, url, start, end = "run", p["run_id"], reverse("workers:run", args=[p["run_id"]]), -1, -1
    else:
        kind, object_id, start, end = "note", note_id, p["start"], p["end"]
        url = note_url + (f"#p-{start}" if start >= 0 else "")
    return Hit(
        kind=kind, object_id=object_id, note_id=note_id, title=p["note__title"], passage=p["text"], passage_start=start,
        passage_end=end, score=score, url=url, tags=tags.get(note_id, []), paper_id=p["note__paper_id"],
        paper_title=p["note__paper__title"], date=p["note__created"],
    )


def _rankings(user_id: int, query: str, mode: str, depth: int) -> kept_rankings.Rankings:
    """The keyword and semantic passage rankings the mode asks for: those kept for the same
    question at the same index position (search/kept_rankings.py), or ranked now and kept
    unless meaning search answered by words (kept, they would outlast the warm-up)."""
    state = hnsw.position(user_id)
    index = _meaning_index(user_id, state) if mode in ("hybrid", "semantic") else None
    key = (user_id, query, mode, depth, settings.SEARCH_KEYWORD_ROW_BUDGET, state, index and index.model)
    rankings = kept_rankings.get(key)
    if rankings is not None:
        return rankings
    rankings = {}
    semantic = cache(_start_semantic(user_id, query, depth, index)) if mode in ("hybrid", "semantic") else None
    if mode in ("hybrid", "keyword"):
        # Meaning's passages are scored on every word too where the row budget left words
        # out, so the words' evidence on them counts in the fusion.
        also = (lambda: [pk for pk, _ in semantic()]) if semantic else None
        rankings["keyword"] = keyword.search_passages(user_id, query, depth, also=also)
    if semantic:
        rankings["semantic"] = semantic()
    # warming_up: searchd stopped answering during this search (no hits by meaning, for now).
    if mode == "keyword" or (index is not None and not hnsw.warming_up(user_id)):
        kept_rankings.keep(key, rankings)
    return rankings


# Ids only; whole rows are read for the page's hits alone. The note's paper comes along on
# the join the owner check makes: no second query to put found notes beneath their found paper.
CANDIDATE_FIELDS = ("pk", "kind", "note_id", "paper_id", "note__paper_id")
_UNFILTERED_CANDIDATES = Prepared(
    lambda user_id, ids: Passage.objects.filter(_filter_q(user_id, SearchFilters()), InIds(F("pk"), ids)).values_list(
        *CANDIDATE_FIELDS
    )
)


def _ranked_candidates(user, query: str, mode: str, filters: SearchFilters, depth: int):
    """The keyword and semantic passage rankings the mode asks for, the group (a note
    with its snippets and runs, or a paper) of every candidate that passes the filters (and
    still exists, and is the user's), and the paper each of those notes is about."""
    rankings = _rankings(user.pk, query, mode, depth)
    candidates = {pk for ranking in rankings.values() for pk, _ in ranking}
    if not filters.narrows():  # most searches: the SQL compiled once
        rows = _UNFILTERED_CANDIDATES.rows(user.pk, candidates)
    else:
        allowed = Passage.objects.filter(_filter_q(user, filters), InIds(F("pk"), candidates))
        rows = (allowed.distinct() if filters.tag else allowed).values_list(*CANDIDATE_FIELDS)
    groups, about = {}, {}
    for pk, kind, note_id, paper_id, note_paper_id in rows:
        groups[pk] = ("paper", paper_id) if kind == Passage.PAPER else ("note", note_id)
        if note_paper_id is not None:
            about[note_id] = note_paper_id
    return rankings, groups, about


@repeatable_read()
def search(user, query: str, *, mode: str = "hybrid", filters: SearchFilters | None = None, limit: int = 10, offset: int = 0) -> SearchPage:
    started = time.perf_counter()
    mode = mode if mode in MODES else "hybrid"
    query = _clean(query)
    if not query.strip() or not getattr(user, "is_authenticated", False):
        return SearchPage([], 0, mode, 0.0)
    filters = filters or SearchFilters()
    limit, offset = max(0, int(limit)), max(0, int(offset))
    rankings, groups, about = _ranked_candidates(user, query, mode, filters, depth(limit, offset))
    ordered, best = fusion.fuse(rankings, groups, fusion.chosen())
    entries = _with_papers(ordered, about)
    hits = _hits(entries[offset : offset + limit], best)
    return SearchPage(hits, len(entries), mode, (time.perf_counter() - started) * 1000)


def depth(limit: int, offset: int = 0, chosen: fusion.Fusion | None = None) -> int:
    """Passages read from each ranking: the chosen depth, more for a deep page."""
    return max((chosen or fusion.chosen()).depth, 2 * (offset + limit))


# Related notes are about meaning: a pair of passages counts by its similarity times how
# much of each is prose (search/passages.py: prose_share), so code and imports weigh little;
# a passage that is all code keeps this share. Two passages this alike are one text pasted
# into both notes, which says nothing about what either note is about.
CODE_WEIGHT = 0.1
PASTED_SIMILARITY = 0.97


def _prose_weight(text: str) -> float:
    return CODE_WEIGHT + (1.0 - CODE_WEIGHT) * passages.prose_share(text)


@repeatable_read()
def related_notes(user, note, limit: int = 5) -> list[Related]:
    """The nearest notes by meaning, each with the pair of passages that connects them."""
    if note.user_id != user.pk or not note.searchable:
        return []
    try:
        index = hnsw.get_index(user.pk)
    except hnsw.WarmingUp:  # no snapshot to load yet: related notes come once the writer built it
        return []
    own = list(
        Passage.objects.filter(note_id=note.pk, model=index.model)  # the note is the user's (checked above)
        .exclude(vector=None)
        .order_by("start", "pk")
        .values_list("pk", "text")[:32]
    )
    own_ids = [pk for pk, _ in own if pk in index.live]
    if not own_ids:
        return []
    own_text = dict(own)
    own_weight = {pk: _prose_weight(own_text[pk]) for pk in own_ids}
    matches = index.query_many(index.vectors(own_ids), k=min(100, 10 * limit + 20))
    candidates: dict[int, list[tuple[float, int]]] = {}  # target passage -> (similarity, source passage)
    for source, found in zip(own_ids, matches):
        for target, similarity in found:
            if similarity < PASTED_SIMILARITY:
                candidates.setdefault(target, []).append((similarity, source))
    linked = set(note.outgoing_links.values_list("target_key", flat=True))
    dismissed = set(DismissedRelated.objects.filter(note=note).values_list("other_id", flat=True))
    targets = (
        Passage.objects.filter(InIds(F("pk"), candidates), kind__in=indexing.NOTE_KINDS, note__user=user, note__searchable=True)
        .exclude(note_id=note.pk)
        .exclude(note_id__in=dismissed)
        .select_related("note")
    )
    best: dict[int, Related] = {}
    for p in targets:
        if NoteLink.key_for(p.note.title) in linked:
            continue
        target_weight = _prose_weight(p.text)
        score, source = max((similarity * own_weight[source] * target_weight, source) for similarity, source in candidates[p.pk])
        if p.note_id not in best or score > best[p.note_id].score:
            best[p.note_id] = Related(p.note, score, own_text[source], p.text)
    return sorted(best.values(), key=lambda r: -r.score)[:limit]


def dismiss_related(user, note, other_note_id: int) -> None:
    if note.user_id != user.pk or not Note.objects.for_user(user).filter(pk=other_note_id).exists():
        return
    DismissedRelated.objects.get_or_create(user=user, note=note, other_id=other_note_id)


def note_index_state(note) -> str:
    if not note.searchable:
        return "off"
    source = IndexedSource.objects.filter(kind=Passage.NOTE, object_id=note.pk).first()
    if source and source.state == IndexedSource.FAILED:
        return "failed"
    if source and source.state == IndexedSource.INDEXED and source.fingerprint == indexing.note_fingerprint(note):
        return "indexed"
    return "pending"


def _note_state(searchable: bool, version: int, source) -> str:
    if not searchable:
        return "off"
    if source is None:
        return "pending"
    if source["state"] == IndexedSource.FAILED:
        return "failed"
    if source["state"] == IndexedSource.INDEXED and source["fingerprint"].startswith(f"{version}:1:"):
        return "indexed"
    return "pending"


def index_status(user) -> dict:
    sources = {
        s["object_id"]: s
        for s in IndexedSource.objects.filter(user=user, kind=Passage.NOTE).values(
            "object_id", "fingerprint", "state", "error", "model", "embedded_at"
        )
    }
    counts = dict(
        Passage.objects.filter(user=user).exclude(note_id=None).values("note_id").annotate(n=Count("pk")).values_list("note_id", "n")
    )
    notes = []
    for pk, title, version, searchable in Note.objects.for_user(user).order_by("-updated").values_list(
        "pk", "title", "version", "searchable"
    ):
        source = sources.get(pk)
        notes.append({
            "note_id": pk, "title": title, "passages": counts.get(pk, 0),
            "model": source["model"] if source else "", "embedded_at": source["embedded_at"] if source else None,
            "state": _note_state(searchable, version, source), "error": source["error"] if source else "",
        })
    active = embedding.active_model(user.pk)
    snapshot = hnsw.snapshot_info(user.pk, active)
    papers_failed = IndexedSource.objects.filter(user=user, kind=Passage.PAPER, state=IndexedSource.FAILED).count()
    totals = {
        "notes": len(notes),
        "passages": Passage.objects.filter(user=user).count(),
        "vectors": Passage.objects.filter(user=user, model=active).exclude(vector=None).count(),
        "pending": sum(n["state"] == "pending" for n in notes),
        "failed": sum(n["state"] == "failed" for n in notes) + papers_failed,
        "deleted_not_erased": snapshot["deleted"] + Tombstone.objects.filter(user=user, seq__gt=snapshot["seq"]).count(),
        "index_bytes": snapshot["bytes"],
        "snapshot_age_s": snapshot["age_s"],
        "model": active,
        "model_unavailable": embedding.unavailable_reason(active),  # why search answers by words only
        **_switch_totals(user.pk, active),
    }
    return {"totals": totals, "notes": notes}


def _switch_totals(user_id: int, active: str) -> dict:
    """The model being switched to and how many sources have its vectors (None/0 when no switch)."""
    target = embedding.model_name()
    if target == active:
        return {"switch_target": None, "switch_done": 0, "switch_total": 0}
    done, total = indexing.switch_progress(user_id, target)
    return {"switch_target": target, "switch_done": done, "switch_total": total}


def request_reindex(user) -> None:
    """Re-embed the user's notes and papers in the background and rebuild their index."""
    from search.receivers import BACKGROUND, enqueue
    from search.tasks import reindex_user

    reindex.mark_requested(user.pk)
    if not enqueue(reindex_user, user.pk, priority=BACKGROUND):
        UserIndexState.objects.filter(user=user).update(reindex_state="idle", reindex_step="")


# A running re-index that has not moved on for this long says it is waiting (for the saves
# and imports queued ahead of its next batch, or for a worker), so a still bar is explained.
REINDEX_WAITING_SHOWN_AFTER = timedelta(seconds=60)


def reindex_progress(user) -> dict:
    """The re-index's state, sources done and total, and since when it has been waiting
    (None unless it runs and has not moved on for REINDEX_WAITING_SHOWN_AFTER)."""
    state = UserIndexState.objects.filter(user=user).values("reindex_state", "reindex_done", "reindex_total", "reindex_moved").first()
    if not state:
        return {"state": "idle", "done": 0, "total": 0, "waiting_since": None}
    moved = state["reindex_moved"]
    waiting = state["reindex_state"] == "running" and moved and timezone.now() - moved > REINDEX_WAITING_SHOWN_AFTER
    return {"state": state["reindex_state"], "done": state["reindex_done"], "total": state["reindex_total"],
            "waiting_since": moved if waiting else None}
