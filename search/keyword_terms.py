"""SQLite: a passage's words as FTS5 counts them, kept with the passage (Passage.terms), so
that scoring a few hundred found passages again on every query word (search/
keyword_rescore.py) reads counts instead of finding the words in their text at every search
(at 20k passages a user that was 5 ms of a 20 ms results page: README, Measured figures).

The counts are made by FTS5's own tokenizer (the users' indexes' `porter unicode61`) in a
private in-memory database, so they are FTS5's by construction: accents, stems and word
boundaries included. Stored as text: the passage's length in tokens (context and text),
then one line per distinct token, `token count_in_context count_in_text`, each line
beginning with a newline. NULL means not made: on PostgreSQL (ts_rank scores from the
tsvector), for a row written by another path, or one whose text was changed under it (a
trigger clears its counts: search/migrations/0010); those counts are then made from the
text when they are read.
"""

import re
import sqlite3
import threading
from collections.abc import Callable
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections

from search import keyword_index

# Per passage: its tokens in both columns, then `\ntoken in_context in_text` per token.
_COUNTED = (
    "SELECT doc, sum(n) || char(10) || group_concat(term || ' ' || in_context || ' ' || in_text, char(10)) || char(10) "
    "FROM (SELECT doc, term, count(*) AS n, sum(col = 'context') AS in_context, sum(col = 'text') AS in_text "
    "FROM v GROUP BY doc, term) GROUP BY doc"
)
EMPTY = "0\n"  # a passage without a word: made, and nothing to find


# Per thread and column list, a private in-memory database with FTS5 table `w` and its
# vocabulary `v`, made once: making them took ~0.3 ms, and a results page asked for the
# tokens of each hit's new words (bench/search_page_cpu.py). The rows are inserted in a
# transaction that is rolled back once read, which leaves the tables empty again.
_scratch = threading.local()


def _scratch_database(columns: str) -> sqlite3.Connection:
    databases = _scratch.__dict__.setdefault("databases", {})
    if columns not in databases:
        scratch = sqlite3.connect(":memory:", isolation_level=None)  # transactions as written below
        scratch.execute(f"CREATE VIRTUAL TABLE w USING fts5({columns}, tokenize='{keyword_index.TOKENIZER}')")
        scratch.execute("CREATE VIRTUAL TABLE v USING fts5vocab(w, 'instance')")
        databases[columns] = scratch
    return databases[columns]


@contextmanager
def _tokenized(columns: str, rows: list[tuple]):
    """A private in-memory database where FTS5 table `w` (these columns, the users' tokenizer)
    holds the rows (rowid 1, 2, ...) and `v` lists their tokens: (term, doc, col, offset)."""
    scratch = _scratch_database(columns)
    scratch.execute("BEGIN")
    try:
        slots = ", ".join("?" * (len(rows[0]) + 1))
        scratch.executemany(f"INSERT INTO w(rowid, {columns}) VALUES ({slots})", [(i, *row) for i, row in enumerate(rows, 1)])
        yield scratch
    finally:
        scratch.execute("ROLLBACK")


def counted(rows: list[tuple[str, str]]) -> list[str]:
    """The stored form of each (context, text)'s token counts."""
    if not rows:
        return []
    with _tokenized("context, text", [(context or "", text or "") for context, text in rows]) as scratch:
        made = dict(scratch.execute(_COUNTED).fetchall())
    return [made.get(i, EMPTY) for i in range(1, len(rows) + 1)]


def to_store(rows: list[tuple[str, str]]) -> list[str | None]:
    """What new passages of these (context, text) keep in Passage.terms: their counts on
    SQLite, nothing elsewhere."""
    if connections[DEFAULT_DB_ALIAS].vendor != "sqlite":
        return [None] * len(rows)
    return counted(rows)


def length(terms: str) -> int:
    """The passage's tokens, context and text together (FTS5's row size for bm25)."""
    return int(terms[: terms.index("\n")])


def finder(tokens: list[str]) -> Callable[[str], dict[str, tuple[int, int]]]:
    """A function giving, for a passage's kept counts, how often each of these tokens that it
    has occurs in its context and in its text (one regex scan a passage: a few hundred
    passages times a question's words were as many str.find calls)."""
    pattern = re.compile("\n(" + "|".join(map(re.escape, sorted(set(tokens)))) + r") (\d+) (\d+)(?=\n)")

    def found(terms: str) -> dict[str, tuple[int, int]]:
        return {token: (int(in_context), int(in_text)) for token, in_context, in_text in pattern.findall(terms)}

    return found


_stem_cache: dict[str, str | None] = {}
STEM_CACHE_SIZE = 50_000


def stems(words: tuple[str, ...]) -> dict[str, str | None]:
    """Each query word's one token as FTS5's tokenizer makes it (None where it makes zero or
    several), asked of FTS5 itself, and remembered."""
    missing = [w for w in words if w not in _stem_cache]
    if missing:
        if len(_stem_cache) + len(missing) > STEM_CACHE_SIZE:
            _stem_cache.clear()
        with _tokenized("word", [(word,) for word in missing]) as scratch:
            found = {doc: term for doc, n, term in scratch.execute("SELECT doc, count(*), min(term) FROM v GROUP BY doc") if n == 1}
        for i, word in enumerate(missing, 1):
            _stem_cache[word] = found.get(i)
    return {w: _stem_cache.get(w) for w in words}


BACKFILL_BATCH = 2000


def backfill(connection) -> int:
    """Make the counts of every SQLite passage that has none (migration 0010: the passages
    written before counts were kept). Returns how many were made."""
    if connection.vendor != "sqlite":
        return 0
    made, after = 0, 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT id, context, text FROM search_passage WHERE terms IS NULL AND id > %s ORDER BY id LIMIT %s",
                           [after, BACKFILL_BATCH])
            rows = cursor.fetchall()
            if not rows:
                return made
            terms = counted([(context, text) for _, context, text in rows])
            cursor.executemany("UPDATE search_passage SET terms = %s WHERE id = %s",
                               [(t, pk) for t, (pk, _, _) in zip(terms, rows)])
            made, after = made + len(rows), rows[-1][0]
