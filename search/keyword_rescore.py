"""Every query word's score for a few given passages, when the keyword row budget left words out.

Past SEARCH_KEYWORD_ROW_BUDGET matching rows, search/keyword.py ranks a user's passages by
the query's rarer words only (scoring every row a common word matches costs ~1 µs a row).
That loses the left-out words' evidence: a passage that has them, or has them more often,
ranks no higher. So the passages that ranking found, and those meaning search found, are
scored again on every word. That is a few hundred rows, not tens of thousands:

- PostgreSQL: the same IDF-weighted ts_rank as the ranking (search/postgres_rank.py) over
  those rows' tsvectors.
- SQLite: FTS5's bm25, computed here exactly as FTS5 computes it (fts5_aux.c: k1 1.2,
  b 0.75, a word's IDF from the user's rows it matches, the row's length in tokens over the
  average, column weights on the word counts), from the user's own index (row count and
  token totals from its averages record; each word's matching rows counted once and cached)
  and each passage's token counts, made by FTS5's own tokenizer and kept with the passage
  (search/keyword_terms.py). tests/test_search_keyword_rescore.py holds the scores equal
  to FTS5's own on the real corpus.
"""

import math

from search import keyword_index, keyword_terms, postgres_rank

K1, B = 1.2, 0.75


def postgres(db, user_id: int, words: list[str], idfs: list[float], ids: list[int], weights: list[float],
             limit: int) -> list[tuple[int, float]]:
    # The rows are fetched by primary key and matched one by one: left to itself the planner
    # matched through the GIN index, visiting every row a common word matches (bench/
    # keyword_rescore.py at 100k passages: 14.6 ms added a question, against 7.0 ms so).
    # OFFSET 0 keeps the match out of the scan.
    if not ids:
        return []
    sql = (
        f"SELECT id, rank FROM (SELECT p.id, {postgres_rank.score_sql(len(words))} AS rank, p.search_tsv @@ q AS hit "
        f"FROM search_passage p, {postgres_rank.queries_sql(len(words))} "
        "WHERE p.id = ANY(%s) AND p.user_id = %s OFFSET 0) s WHERE hit ORDER BY rank DESC, id LIMIT %s"
    )
    params = [*postgres_rank.params(words, idfs, weights), list(ids), user_id, limit]
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        return [(int(pk), float(rank)) for pk, rank in cursor.fetchall()]


def sqlite(db, user_id: int, words: list[str], ids: list[int], context_weight: float, limit: int,
           matching_rows) -> list[tuple[int, float]] | None:
    """bm25 of the passages `ids` (the user's) on every word, best first, passages that have
    none of the words left out; None where it cannot be computed as FTS5 would (a word FTS5
    reads as several tokens, an index without rows). `matching_rows(word)` is the user's
    rows the word matches."""
    stems = keyword_terms.stems(tuple(words))
    rows, totals = _averages(db, keyword_index.table(user_id))
    if not rows or not all(stems.values()):
        return None
    if not ids:
        return []
    average = sum(totals) / rows
    idf = {}
    for word in stems:
        hits = matching_rows(word)
        idf[word] = math.log((rows - hits + 0.5) / (hits + 0.5))
        if idf[word] <= 0:
            idf[word] = 1e-6
    placeholders = ",".join(["%s"] * len(ids))
    with db.cursor() as cursor:
        # A passage's context and text are read only where its counts were not kept.
        cursor.execute(
            "SELECT id, terms, CASE WHEN terms IS NULL THEN context END, CASE WHEN terms IS NULL THEN text END "
            f"FROM search_passage WHERE user_id = %s AND id IN ({placeholders})", [user_id, *ids],
        )
        found = cursor.fetchall()
    made = iter(keyword_terms.counted([(context, text) for _, terms, context, text in found if terms is None]))
    occurrences = keyword_terms.finder(list(stems.values()))
    scored = []
    for pk, terms, _, _ in found:
        terms = next(made) if terms is None else terms
        norm = K1 * (1 - B + B * keyword_terms.length(terms) / average)
        counts = occurrences(terms)
        score = 0.0
        for word, stem in stems.items():
            if stem in counts:
                in_context, in_text = counts[stem]
                freq = context_weight * in_context + in_text
                score += idf[word] * (freq * (K1 + 1)) / (freq + norm)
        if score:
            scored.append((int(pk), score))
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored[:limit]


def _averages(db, fts: str) -> tuple[int, list[int]]:
    """The index's row count and per-column token totals (FTS5's averages record, row 1 of
    its data table)."""
    with db.cursor() as cursor:
        cursor.execute(f"SELECT block FROM {fts}_data WHERE id = 1")
        row = cursor.fetchone()
    if not row or not row[0]:
        return 0, []
    values = _varints(row[0])
    return values[0], values[1:]


def _varints(blob: bytes) -> list[int]:
    """SQLite's variable-length integers (big-endian, 7 bits a byte, a 9th byte of 8 bits),
    the encoding of FTS5's size records."""
    out, i, data = [], 0, bytes(blob)
    while i < len(data):
        value = 0
        for n in range(9):
            byte = data[i]
            i += 1
            if n == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        out.append(value)
    return out
