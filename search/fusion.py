"""Fusing the keyword and meaning rankings of passages into one ranking of hits.

A pure function of the rankings, so bench/search_quality.py can replay it offline for every
candidate configuration over the same per-mode rankings and choose the constants by
cross-validation (the figures and folds are in the README, Search). A hit is a group: a
note with its snippets and run summaries, or a paper.

Whatever the weights, two guarantees hold (tests/test_search_fusion.py): the group a
single ranking puts first is never below place PIN of the fused ranking, so neither a
note that only meaning finds nor one that only its words find is thrown away; and a query
none of whose words matches anything is ranked by meaning alone.
"""

from dataclasses import dataclass
from statistics import mean, pstdev

Group = tuple[str, int]  # ("note", note id) or ("paper", paper id)
Ranking = list[tuple[int, float]]  # (passage id, raw score), best first


@dataclass(frozen=True)
class Fusion:
    # "rrf": reciprocal rank, w / (rrf_k + rank); "minmax": scores scaled to 0..1 within the
    # ranking; "zscore": scores standardised within the ranking.
    method: str = "rrf"
    semantic_weight: float = 0.5  # keyword gets 1 - semantic_weight
    rrf_k: int = 60
    # "best": a group counts with its best passage; "top2": its second-best adds half its own.
    aggregate: str = "best"
    depth: int = 50  # passages read from each ranking (more when a deep page asks for it)
    pin: int = 3  # each ranking's first group is never below this place


# Chosen per database by grouped 5-fold cross-validation over both dev sets (100 questions,
# 840 configurations; bench/search_quality.py --cv 5, folds and figures in the README), each
# configuration judged with its neighbours on the grid (a plateau, not a lucky peak) and
# over the corpus alone and grown to 100k passages (--distractors, --from-replay A B). On
# PostgreSQL that moved meaning 0.5 -> 0.4 and depth 200 -> 50 (in-sample MRR@10 0.966 for
# both at 235 notes, 0.863 -> 0.895 at 100k); on SQLite the joint leader was within half a
# question of these constants at both sizes, so they stay. Reciprocal-rank fusion lost on
# both (in-sample MRR@10 0.939 against 0.978 on SQLite, 0.935 against 0.966 on PostgreSQL).
# The keyword side's title weight is search/keyword.py's CONTEXT_WEIGHTS. With PostgreSQL's
# keyword ranking weighted by IDF (search/postgres_rank.py) its constants score 0.984 there,
# held out and in-sample, tied with depth 100 and 200, so they stayed.
CHOSEN = {
    "sqlite": Fusion(method="minmax", semantic_weight=0.4, aggregate="best", depth=200),
    "postgresql": Fusion(method="minmax", semantic_weight=0.4, aggregate="best", depth=50),
}


def chosen() -> Fusion:
    """The configuration for the database this process searches."""
    from django.db import connection

    return CHOSEN.get(connection.vendor, CHOSEN["sqlite"])



def _contributions(ranking: Ranking, groups: dict[int, Group], fusion: Fusion) -> tuple[dict[int, float], dict[Group, float]]:
    """Per passage and per group, what this ranking adds to the fused score."""
    kept = [(pk, raw) for pk, raw in ranking if pk in groups]
    if not kept:
        return {}, {}
    if fusion.method == "rrf":
        passage = {}
        group_rank: dict[Group, int] = {}
        for position, (pk, _) in enumerate(kept, 1):
            group_rank.setdefault(groups[pk], len(group_rank) + 1)
            passage[pk] = 1.0 / (fusion.rrf_k + position)
        per_group: dict[Group, list[float]] = {}
        for pk, _ in kept:
            per_group.setdefault(groups[pk], []).append(passage[pk])
        # The best passage scores by its group's rank (a note's other passages do not push
        # other notes down); a second passage adds by its own rank.
        out = {}
        for group, values in per_group.items():
            best = 1.0 / (fusion.rrf_k + group_rank[group])
            out[group] = best + (values[1] / 2 if fusion.aggregate == "top2" and len(values) > 1 else 0.0)
        return passage, out
    raws = [raw for _, raw in kept]
    if fusion.method == "minmax":
        high, low = max(raws), min(raws)
        passage = {pk: (raw - low) / (high - low) if high > low else 1.0 for pk, raw in kept}
    else:  # zscore, shifted so the ranking's last passage (and anything absent) counts 0
        centre, spread = mean(raws), pstdev(raws) or 1.0
        floor = (min(raws) - centre) / spread
        passage = {pk: (raw - centre) / spread - floor for pk, raw in kept}
    per_group = {}
    for pk, _ in kept:
        per_group.setdefault(groups[pk], []).append(passage[pk])
    return passage, {
        group: values[0] + (values[1] / 2 if fusion.aggregate == "top2" and len(values) > 1 else 0.0)
        for group, values in per_group.items()
    }


def fuse(
    rankings: dict[str, Ranking], groups: dict[int, Group], fusion: Fusion | None = None
) -> tuple[list[tuple[Group, float]], dict[Group, int]]:
    """(group, score) best first, and each group's best passage. `rankings` maps "keyword" /
    "semantic" to its passages; passages not in `groups` (filtered out, gone) are ignored.
    With one ranking, groups come in its order with their best passage's raw score."""
    fusion = fusion or chosen()
    rankings = {mode: [(pk, raw) for pk, raw in ranking if pk in groups] for mode, ranking in rankings.items()}
    live = {mode: ranking for mode, ranking in rankings.items() if ranking}
    if len(live) <= 1:
        # One mode asked for, or a hybrid query only one mode answered (no word matches).
        ordered: list[tuple[Group, float]] = []
        best: dict[Group, int] = {}
        for pk, raw in next(iter(live.values()), []):
            if groups[pk] not in best:
                best[groups[pk]] = pk
                ordered.append((groups[pk], raw))
        return ordered, best
    weights = {"semantic": fusion.semantic_weight, "keyword": 1.0 - fusion.semantic_weight}
    fused: dict[Group, float] = {}
    passage_score: dict[int, float] = {}
    for mode, ranking in live.items():
        per_passage, per_group = _contributions(ranking, groups, fusion)
        for pk, value in per_passage.items():
            passage_score[pk] = passage_score.get(pk, 0.0) + weights[mode] * value
        for group, value in per_group.items():
            fused[group] = fused.get(group, 0.0) + weights[mode] * value
    best = {}
    for pk, _ in sorted(passage_score.items(), key=lambda item: (-item[1], item[0])):
        best.setdefault(groups[pk], pk)
    ordered = sorted(fused.items(), key=lambda item: (-round(item[1], 12), item[0]))
    return _pin_firsts(ordered, [groups[ranking[0][0]] for ranking in live.values()], fusion.pin), best


def _pin_firsts(ordered: list[tuple[Group, float]], firsts: list[Group], pin: int) -> list[tuple[Group, float]]:
    """Moves each ranking's first group up into the first `pin` places where fusion left it
    lower, the others keeping their order (a pinned group keeps its own score)."""
    place = {group: i for i, (group, _) in enumerate(ordered)}
    keep = set(firsts)
    if all(place[group] < pin for group in keep):
        return ordered
    others = [item for item in ordered if item[0] not in keep]
    head = sorted([item for item in ordered if item[0] in keep] + others[: max(0, pin - len(keep))], key=lambda item: place[item[0]])
    taken = {group for group, _ in head}
    return head + [item for item in ordered if item[0] not in taken]
