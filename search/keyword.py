"""Keyword search over passages: SQLite FTS5 (BM25) on SQLite, PostgreSQL full-text
(tsvector + GIN, ts_rank per word weighted by the word's IDF: search/postgres_rank.py) on
PostgreSQL, behind one function. ts_rank, not ts_rank_cd: measured on PostgreSQL with
bench/search_quality.py, ts_rank_cd ranked worse (keyword MRR@10 0.89 against 1.00, hybrid
0.95 against 1.00), for no gain in speed.

The query is never handed to either engine's query syntax: it is cut into words
(letters and digits only), which are ORed as quoted terms, so `"`, `*`, `NEAR`, `:`,
`-`, `'` and friends are just text.

A user's ranking depends on their passages only: on SQLite each user has their own FTS5
index (bm25's statistics are per table, see search/keyword_index.py); on PostgreSQL the IDFs
come from the user's own kept counts. The row-budget counts below are the user's own rows.

Both engines score every one of the user's rows that matches any word, so the cost of a
query is the number of rows its words match (~1 µs each in FTS5), and at 100k passages a
common word matches half of them (115 ms a query). Words are ranked rarest (in the user's
passages) first until SEARCH_KEYWORD_ROW_BUDGET matching rows; the most common words past it
(the lowest IDF) are left out of that ranking. A collection smaller than the budget is always
ranked on every word. (The counts are FTS5 counts on SQLite, cached a few minutes; on
PostgreSQL counts kept by triggers.) Where words were left out, the passages found, and
meaning search's in hybrid, are then scored again on every word, with the score the full
ranking would give them (search/keyword_rescore.py): a few hundred rows instead of tens of
thousands. Measured by bench/search_quality.py with the budget scaled to the dev corpus as
8000 is to 100k passages: hybrid MRR@10 0.978 on SQLite, as without a budget (0.86 when the
left-out words were simply dropped).
"""

import re
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections

from search import keyword_index, keyword_rescore, postgres_rank
from search.consistency import read_connection

# Words that match almost every passage and only add noise to an OR query.
STOPWORDS = frozenset(
    "a an and are as at be by for from has have how i in is it its of on or that the this to was what when "
    "where which who why with we our you your do does did can could should would my me".split()
)
MAX_TERMS = 32
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def terms(query: str) -> list[str]:
    words = []
    for word in _WORD.findall(query.lower()):
        if word not in STOPWORDS and word not in words:
            words.append(word[:64])
    return words[:MAX_TERMS]


# SQLite: (database, user, word, cap) -> (the user's matching rows, at most cap; when
# counted); PostgreSQL reads kept counts instead (_kept_counts). Counts steer which words are
# ranked and give a left-out word its IDF when passages are scored again, where a few
# minutes' staleness moves a score by the change in a common word's rarity: harmless.
# They are the user's own, so another user's collection never changes which words are kept.
MATCHES_TTL_SECONDS = 300
MATCHES_CACHE_SIZE = 20_000


class _KeptCounts:
    """Counts kept in this process for MATCHES_TTL_SECONDS, at most MATCHES_CACHE_SIZE of them."""

    def __init__(self):
        self._kept: dict = {}

    def get(self, key, count: Callable[[], int], fresh: bool = False) -> int:
        """The kept count for `key`, or `count()` when there is none, it is old, or `fresh`."""
        cached, now = self._kept.get(key), time.monotonic()
        if cached and now - cached[1] < MATCHES_TTL_SECONDS and not fresh:
            return cached[0]
        if len(self._kept) >= MATCHES_CACHE_SIZE:
            self._kept.clear()
        value = count()
        self._kept[key] = (value, now)
        return value

    def clear(self) -> None:
        self._kept.clear()


_matches_cache = _KeptCounts()  # (database, user, word, cap) -> the user's rows matching it
EXACT = 2**31 - 1  # a cap no collection reaches: the exact count (bm25's IDF needs it)


# PostgreSQL: the user's rows matching the query q. `user_id + 0`, not `user_id`: it is the
# first column of the GIN index below, so the matching rows come from that index alone. With
# plain `user_id` the planner walked the user_id btree and tested @@ on every one of the
# user's rows (8 users x 20k passages, EXPLAIN ANALYZE of a question: 19 ms against 3.8).
USER_MATCHES = "(p.user_id + 0) = %s AND p.search_tsv @@ q"


def _count_matches(db, user_id: int, word: str, cap: int) -> int:
    """The user's rows matching the word, at most `cap`."""
    if db.vendor == "postgresql":
        sql = f"SELECT count(*) FROM (SELECT 1 FROM search_passage p, to_tsquery('english', %s) q WHERE {USER_MATCHES} LIMIT %s) s"
        params = [f"'{word}'", user_id, cap]
    else:
        fts = keyword_index.table(user_id)
        sql = f"SELECT count(*) FROM (SELECT rowid FROM {fts} WHERE {fts} MATCH %s LIMIT %s)"
        params = [f'"{word}"', cap]
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _matches(db, user_id: int, word: str, cap: int) -> int:
    return _matches_cache.get((db.vendor, user_id, word, cap), lambda: _count_matches(db, user_id, word, cap))


def _kept_counts(db, user_id: int, words: list[str]) -> dict[str, int]:
    """PostgreSQL: the user's passages containing each word, from the counts the triggers keep
    (search/keyword_schema.py: POSTGRES_STATS_FORWARD), in one query. A word that is not one lexeme (the parser
    splits it) is left out, to be counted live as it is matched."""
    sql = (
        "SELECT q.word, coalesce(s.passages, 0) FROM unnest(%s::text[]) AS q(word) "
        "CROSS JOIN LATERAL (SELECT tsvector_to_array(to_tsvector('english', q.word)) AS lexemes) l "
        "LEFT JOIN search_keyword_stat s ON s.user_id = %s AND s.lexeme = l.lexemes[1] "
        "WHERE coalesce(array_length(l.lexemes, 1), 0) <= 1"
    )
    with db.cursor() as cursor:
        cursor.execute(sql, [words, user_id])
        return dict(cursor.fetchall())


def _counts(db, user_id: int, words: list[str], cap: int) -> list[int]:
    """The user's rows matching each word: FTS5 counts (cached) up to `cap` on SQLite; on
    PostgreSQL the kept counts, exact (a word the parser splits is counted live up to `cap`)."""
    if db.vendor != "postgresql":
        return [_matches(db, user_id, word, cap) for word in words]
    kept = _kept_counts(db, user_id, words)
    return [kept[word] if word in kept else _count_matches(db, user_id, word, cap) for word in words]


# PostgreSQL: (user) -> (their passages, when counted), the N of each word's IDF; a few
# minutes' staleness moves every IDF by the share of passages added meanwhile, and a word
# counted in more passages than that has them counted again.
_passages_cache = _KeptCounts()


def _user_passages(db, user_id: int, fresh: bool = False) -> int:
    def count() -> int:
        with db.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM search_passage WHERE user_id = %s", [user_id])
            return cursor.fetchone()[0]

    return _passages_cache.get(user_id, count, fresh)


# Matching rows the ranking scores per query, unless SEARCH_KEYWORD_ROW_BUDGET says otherwise.
# Hybrid search ranks a quarter of them: meaning's passages are scored on every word there
# anyway, so its quality is the same (100k real passages, both dev sets, SQLite: MRR@10
# 0.912 with 8000, 0.914 with 2000) for less time (FTS5 scores a row in ~1 µs, PostgreSQL's
# ts_rank in ~4 µs); keyword search alone would lose the passages only the left-out words
# find (0.860 -> 0.805), so it keeps the full budget (bench/search_quality.py --budgets).
ROW_BUDGET = 8000
HYBRID_ROW_BUDGET = 2000


def row_budget(hybrid: bool = False) -> int:
    if settings.SEARCH_KEYWORD_ROW_BUDGET:
        return settings.SEARCH_KEYWORD_ROW_BUDGET
    return HYBRID_ROW_BUDGET if hybrid else ROW_BUDGET


def ranked_words(user_id: int, words: list[str], db=None, hybrid: bool = False) -> list[str]:
    """The words to rank the user's passages by: rarest in their passages first, within the
    row budget (at least one word when there are any)."""
    return _choose_words(db or _reader(user_id), user_id, words, hybrid)[0]


def _choose_words(db, user_id: int, words: list[str], hybrid: bool) -> tuple[list[str], dict[str, int]]:
    """ranked_words, and the user's rows matching each word (on PostgreSQL, the IDFs' counts)."""
    if not words:
        return [], {}
    budget = row_budget(hybrid)
    counts = _counts(db, user_id, words, budget + 1)
    if min(counts) > budget:
        # Every word is past the budget, and counts stopped there cannot tell which is the
        # rarest: count them all (the rescoring of the left-out words needs these counts next).
        counts = _counts(db, user_id, words, EXACT)
    counted = sorted(zip(counts, range(len(words)), words))
    kept, rows = [], 0
    for count, _, word in counted:
        if kept and rows + count > budget:
            break
        kept.append(word)
        rows += count
    return kept, dict(zip(words, counts))


# How much more a word in a passage's context (note title and heading) counts than one in its
# text, per database; chosen with the fusion constants by cross-validation (search/fusion.py).
CONTEXT_WEIGHTS = {"sqlite": 2.0, "postgresql": 1.0}


def default_context_weight() -> float:
    return CONTEXT_WEIGHTS.get(connection.vendor, CONTEXT_WEIGHTS["sqlite"])


def _reader(user_id: int):
    """The connection to rank with: this thread's read connection (inside a search's
    consistent view, the rows that view sees, which are the passages read next). On SQLite,
    when that view lacks the user's index, it is created (from their passages) on the
    default connection and the ranking reads there, once."""
    db = read_connection()
    if db.vendor != "sqlite" or keyword_index.exists(db, user_id):
        return db
    keyword_index.ensure(user_id)
    return connections[DEFAULT_DB_ALIAS]


# In hybrid, how many passages of each ranking (the kept words', meaning's) are scored again
# on every word: the cost is per passage (its text read and searched on SQLite), the gain is at the
# top. With the budget scaled to the dev corpus, 100 gave the same hybrid figures as 200 on
# both databases (bench/search_quality.py; README, Search), at about half the added time
# at 100k passages (bench/keyword_rescore.py).
RESCORED = 100


def search_passages(user_id: int, query: str, limit: int = 100, context_weight: float | None = None,
                    also: Callable[[], Iterable[int]] | None = None) -> list[tuple[int, float]]:
    """(passage id, score) best first; higher score is better. Scores use the user's
    passages alone (see search/keyword_index.py). Where the row budget left words out, the
    passages found, and those `also()` gives (meaning search's, in hybrid), are scored again
    on every word (search/keyword_rescore.py); `also` is called only then."""
    context_weight = context_weight or default_context_weight()
    words = terms(query)
    if not words:
        return []
    db = _reader(user_id)
    kept, counts = _choose_words(db, user_id, words, hybrid=also is not None)
    idfs = _postgres_idfs(db, user_id, counts) if db.vendor == "postgresql" else None
    found = _rank(db, user_id, kept, limit, context_weight, idfs)
    if len(kept) == len(words):
        return found
    # Alone, every passage found is scored again; beside meaning's, the first RESCORED of each.
    # The passages found are scored first, while the query is still being embedded (its thread
    # runs ONNX Runtime outside the GIL), and meaning's passages then, those not scored yet: a
    # passage's score does not depend on the others scored with it.
    found_ids = [pk for pk, _ in (found[:RESCORED] if also else found)]
    rescore = _rescorer(db, user_id, words, idfs, context_weight)
    rescored = rescore(found_ids)
    if rescored is None:
        return found
    if also:
        scored = set(found_ids)
        rescored += rescore([pk for pk in dict.fromkeys(list(also())[:RESCORED]) if pk not in scored]) or []
        rescored.sort(key=lambda item: (-item[1], item[0]))
    return rescored[:limit]


def _rescorer(db, user_id: int, words: list[str], idfs: dict[str, float] | None,
              context_weight: float) -> Callable[[list[int]], list[tuple[int, float]] | None]:
    """Scores given passages on every word, best first (search/keyword_rescore.py); None where
    SQLite's cannot be computed as FTS5 would."""
    if db.vendor == "postgresql":
        word_idfs, weights = [idfs[w] for w in words], _postgres_weights(context_weight)
        return lambda ids: keyword_rescore.postgres(db, user_id, words, word_idfs, ids, weights, len(ids))
    return lambda ids: keyword_rescore.sqlite(db, user_id, words, ids, context_weight, len(ids),
                                              lambda word: _matches(db, user_id, word, EXACT))


def _postgres_weights(context_weight: float) -> list[float]:
    """ts_rank's weights {D, C, B, A}, each at most 1: the context is A, the text B."""
    return [0.1, 0.2, 1.0 / context_weight, 1.0] if context_weight >= 1 else [0.1, 0.2, 1.0, context_weight]


def _postgres_idfs(db, user_id: int, counts: dict[str, int]) -> dict[str, float]:
    """Each word's IDF in the user's passages, from how many of them it matches."""
    total = _user_passages(db, user_id)
    if counts and max(counts.values()) > total:  # passages came since the total was counted
        total = _user_passages(db, user_id, fresh=True)
    return {word: postgres_rank.idf(total, count) for word, count in counts.items()}


def _rank(db, user_id: int, words: list[str], limit: int, context_weight: float,
          idfs: dict[str, float] | None = None) -> list[tuple[int, float]]:
    """The user's passages matching any of the words, best first. PostgreSQL weighs each word
    by its IDF (`idfs`, counted here when not given); FTS5's bm25 has its own."""
    if db.vendor == "postgresql":
        idfs = idfs or _postgres_idfs(db, user_id, dict(zip(words, _counts(db, user_id, words, EXACT))))
        n = len(words)
        sql = (
            f"SELECT p.id, {postgres_rank.score_sql(n)} AS rank FROM search_passage p, {postgres_rank.queries_sql(n)} "
            f"WHERE {USER_MATCHES} ORDER BY rank DESC, p.id LIMIT %s"
        )
        params = [*postgres_rank.params(words, [idfs[w] for w in words], _postgres_weights(context_weight)), user_id, limit]
    else:
        # FTS5's own rank column, with the weights given by `rank MATCH`, lets FTS5 score
        # and sort inside the virtual table (ORDER BY rank is consumed by it): ~40% less
        # time than calling bm25() per row and sorting outside, same ranking. The table is
        # the user's own, so no join on the owner is needed.
        fts = keyword_index.table(user_id)
        sql = f"SELECT rowid, -rank FROM {fts} WHERE {fts} MATCH %s AND rank MATCH %s ORDER BY rank LIMIT %s"
        params = [" OR ".join(f'"{w}"' for w in words), f"bm25({float(context_weight)}, 1.0)", limit]
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        return [(int(pk), float(rank)) for pk, rank in cursor.fetchall()]
