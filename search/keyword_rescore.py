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
  average, column weights on the word counts), from the user's own index: row count and
  token totals from its averages record, each row's length from its docsize table, each
  word's matching rows counted once and cached. A word's occurrences in a row are found by
  FTS5's own tokenizer (porter, unicode61): words of the row that could share the query
  word's stem are stemmed by it and kept where they do, the row's accented letters read as
  FTS5 reads them ("Fréchet" as "frechet"). tests/test_search_keyword_rescore.py
  holds the scores equal to FTS5's own on the real corpus.
"""

import math
import re
import sqlite3
from bisect import bisect_right
from functools import lru_cache
from itertools import accumulate

from search import keyword_index, postgres_rank

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
    fts = keyword_index.table(user_id)
    stems = _stems(tuple(words))
    rows, totals = _averages(db, fts)
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
        cursor.execute(f"SELECT id, context, text FROM search_passage WHERE user_id = %s AND id IN ({placeholders})", [user_id, *ids])
        texts = cursor.fetchall()
        cursor.execute(f"SELECT id, sz FROM {fts}_docsize WHERE id IN ({placeholders})", list(ids))
        lengths = {pk: sum(_varints(size)) for pk, size in cursor.fetchall()}
    # Column 0 of a row is its context (the title and heading), column 1 its text.
    fields = [field or "" for _, context, text in texts for field in (context, text)]
    occurrences = _occurrences(_finders(tuple(sorted(set(stems.values())))), fields)
    scored = []
    for i, (pk, _, _) in enumerate(texts):
        norm = K1 * (1 - B + B * lengths.get(pk, 0) / average)
        score = 0.0
        for word, stem in stems.items():
            freq = context_weight * occurrences.get((2 * i, stem), 0) + occurrences.get((2 * i + 1, stem), 0)
            if freq:
                score += idf[word] * (freq * (K1 + 1)) / (freq + norm)
        if score:
            scored.append((int(pk), score))
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored[:limit]


def _occurrences(finders, fields: list[str]) -> dict[tuple[int, str], int]:
    """(field index, stem) -> how many of the field's words FTS5 would index as that stem.
    The fields are searched as one string (a literal-led pattern per prefix lets the regex
    engine skip ahead to each occurrence: a few scans in C instead of one per field and
    prefix); word boundaries are checked by hand, and candidate words are stemmed once each."""
    lowered = [_fold(field).lower() for field in fields]
    starts = list(accumulate((len(field) + 1 for field in lowered[:-1]), initial=0))
    joined = "\x00".join(lowered)
    found: dict[int, str] = {}  # by where the word starts: one prefix may start another ("music", "musiclm")
    for _, pattern in finders:
        for match in pattern.finditer(joined):
            start = match.start()
            if start == 0 or not joined[start - 1].isalnum():
                found[start] = match.group()
    stemmed = _stems(tuple(sorted(set(found.values()))))
    counts: dict[tuple[int, str], int] = {}
    for start, word in found.items():
        field = bisect_right(starts, start) - 1
        stem = stemmed[word]
        if stem:
            counts[(field, stem)] = counts.get((field, stem), 0) + 1
    return counts


# What FTS5's tokenizer makes of each non-ASCII character inside a word: its letter without
# the diacritic ("é" -> "e": unicode61 removes them, so "Fréchet" is indexed as "frechet"), " "
# where it separates words, else the character. Asked of FTS5, as the stems are, and kept.
_folded_chars: dict[str, str] = {}
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _fold(field: str) -> str:
    """The field's non-ASCII characters as FTS5 reads them, so a word is found by the same
    letters FTS5 indexed it under. (Replaced one by one by the regex engine: str.translate
    looks every character up, 3.5x the time on the 100k bench's passages.)"""
    if field.isascii():
        return field
    missing = sorted(c for c in set(field) if ord(c) > 127 and c not in _folded_chars)
    if missing:
        tokens = _tokens([f"a{c}a" for c in missing], keyword_index.TOKENIZER.replace("porter", "").strip())
        for c, found in zip(missing, tokens):
            if found == ["a", "a"]:
                _folded_chars[c] = " "
            elif len(found) == 1 and len(found[0]) >= 2 and found[0][0] == found[0][-1] == "a":
                _folded_chars[c] = found[0][1:-1]
            else:
                _folded_chars[c] = c
    return _NON_ASCII.sub(lambda match: _folded_chars[match.group()], field)


@lru_cache(maxsize=256)
def _finders(stems: tuple[str, ...]):
    """(prefix, pattern of a word starting with it) for the words that could stem to one of
    `stems`. Porter's steps only remove a word's ending, except that they turn a last y into
    i (happy -> happi), add a last e (hoping -> hope) and turn bili into bl (sensibility ->
    sensibl): a stem ending in i, e or l is, but for its last letter, the start of its words;
    any other stem is the start of them all."""
    prefixes = {stem[:-1] if stem[-1:] in ("i", "e", "l") and len(stem) > 1 else stem for stem in stems}
    return tuple((prefix, re.compile(re.escape(prefix) + r"[^\W_]*")) for prefix in sorted(prefixes))


_stem_cache: dict[str, str | None] = {}
STEM_CACHE_SIZE = 50_000


def _stems(words: tuple[str, ...]) -> dict[str, str | None]:
    """Each word's one token as FTS5's tokenizer makes it (None where it makes zero or
    several), asked of FTS5 itself, and remembered."""
    missing = [w for w in words if w not in _stem_cache]
    if missing:
        if len(_stem_cache) + len(missing) > STEM_CACHE_SIZE:
            _stem_cache.clear()
        for word, found in zip(missing, _tokens(missing, keyword_index.TOKENIZER)):
            _stem_cache[word] = found[0] if len(found) == 1 else None
    return {w: _stem_cache.get(w) for w in words}


def _tokens(texts: list[str], tokenizer: str) -> list[list[str]]:
    """The tokens FTS5 makes of each text with `tokenizer`, in a private in-memory database."""
    scratch = sqlite3.connect(":memory:")
    try:
        scratch.execute(f"CREATE VIRTUAL TABLE w USING fts5(word, tokenize='{tokenizer}')")
        scratch.execute("CREATE VIRTUAL TABLE v USING fts5vocab(w, 'instance')")
        scratch.executemany("INSERT INTO w(rowid, word) VALUES (?, ?)", list(enumerate(texts, 1)))
        tokens: dict[int, list[tuple[int, str]]] = {}
        for doc, offset, term in scratch.execute("SELECT doc, offset, term FROM v"):
            tokens.setdefault(doc, []).append((offset, term))
    finally:
        scratch.close()
    return [[term for _, term in sorted(tokens.get(i, []))] for i in range(1, len(texts) + 1)]


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
