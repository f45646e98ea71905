"""The keyword search schema, applied by migrations per database vendor: PostgreSQL's
tsvector column, its storage, the per-user word counts kept by triggers and the (user, words)
GIN index; SQLite's shared FTS5 table (migration 0006 replaces it with one per user:
search/keyword_index.py). search/keyword.py ranks with it."""

import logging

from django.db import DatabaseError, transaction

log = logging.getLogger(__name__)

POSTGRES_FORWARD = [
    "ALTER TABLE search_passage ADD COLUMN search_tsv tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english'::regconfig, coalesce(context, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(text, '')), 'B')) STORED",
    "CREATE INDEX search_passage_tsv_gin ON search_passage USING GIN (search_tsv)",
]
POSTGRES_BACKWARD = ["DROP INDEX IF EXISTS search_passage_tsv_gin", "ALTER TABLE search_passage DROP COLUMN IF EXISTS search_tsv"]
# Ranking reads each matching row's tsvector from the heap. Left to PostgreSQL's defaults,
# a passage row (~3.2 KB with its 1.5 KB vector) is TOASTed with the tsvector out of line,
# so every matching row cost a TOAST fetch: ~8 µs a row. With the vector moved out first
# and the tsvector kept in the row: ~2 µs (measured on 100k passages, 17k matching rows:
# 134-175 ms -> 34 ms). Existing rows are rewritten once so they take the new layout.
POSTGRES_STORAGE_FORWARD = [
    "ALTER TABLE search_passage ALTER COLUMN vector SET STORAGE EXTERNAL, ALTER COLUMN search_tsv SET STORAGE MAIN",
    "UPDATE search_passage SET vector = vector || ''::bytea WHERE vector IS NOT NULL",
]
POSTGRES_STORAGE_BACKWARD = [
    "ALTER TABLE search_passage ALTER COLUMN vector SET STORAGE EXTENDED, ALTER COLUMN search_tsv SET STORAGE EXTENDED",
]
SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE search_passage_fts USING fts5("
    "context, text, content='search_passage', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER search_passage_fts_ai AFTER INSERT ON search_passage BEGIN "
    "INSERT INTO search_passage_fts(rowid, context, text) VALUES (new.id, new.context, new.text); END",
    "CREATE TRIGGER search_passage_fts_ad AFTER DELETE ON search_passage BEGIN "
    "INSERT INTO search_passage_fts(search_passage_fts, rowid, context, text) VALUES ('delete', old.id, old.context, old.text); END",
    "CREATE TRIGGER search_passage_fts_au AFTER UPDATE OF context, text ON search_passage BEGIN "
    "INSERT INTO search_passage_fts(search_passage_fts, rowid, context, text) VALUES ('delete', old.id, old.context, old.text); "
    "INSERT INTO search_passage_fts(rowid, context, text) VALUES (new.id, new.context, new.text); END",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS search_passage_fts_au",
    "DROP TRIGGER IF EXISTS search_passage_fts_ad",
    "DROP TRIGGER IF EXISTS search_passage_fts_ai",
    "DROP TABLE IF EXISTS search_passage_fts",
]


def _run(schema_editor, statements):
    for statement in statements:
        schema_editor.execute(statement)


def on_vendor(vendor, statements):
    """A migration step that runs `statements` on VENDOR's databases and nothing elsewhere."""
    def step(apps, schema_editor):
        if schema_editor.connection.vendor == vendor:
            _run(schema_editor, statements)
    return step


def _on_postgresql(statements):
    return on_vendor("postgresql", statements)


def create_schema(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    _run(schema_editor, POSTGRES_FORWARD if vendor == "postgresql" else SQLITE_FORWARD if vendor == "sqlite" else [])


def drop_schema(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    _run(schema_editor, POSTGRES_BACKWARD if vendor == "postgresql" else SQLITE_BACKWARD if vendor == "sqlite" else [])


set_postgres_storage = _on_postgresql(POSTGRES_STORAGE_FORWARD)


# The row budget needs, for each query word, how many of the user's passages contain it.
# Counted live that cost 68 ms a question at 100k passages (p50 of the dev questions, every
# word counted up to the budget: one heap visit per matching row, ~1.7 µs each), more than
# ranking itself. Kept per user and lexeme by statement triggers instead (one grouped upsert
# per INSERT/UPDATE/DELETE statement, in key order; indexing writes a user's passages under
# their index-position lock, so two writers of one user's counts wait rather than deadlock),
# a count is one primary-key lookup (0.4-0.6 ms for a question's words, one query), read in
# the search's own view of the database, so it is exact, not an estimate: the ranking is
# the one live counts gave. TRUNCATE (test flushes) empties the counts with the passages.
POSTGRES_STATS_FORWARD = [
    "CREATE TABLE search_keyword_stat (user_id integer NOT NULL, lexeme text NOT NULL, "
    "passages integer NOT NULL, PRIMARY KEY (user_id, lexeme))",
    """CREATE FUNCTION search_keyword_stat_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    TRUNCATE search_keyword_stat;
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    INSERT INTO search_keyword_stat AS s (user_id, lexeme, passages)
    SELECT r.user_id, l.lexeme, count(*) FROM new_rows r, unnest(tsvector_to_array(r.search_tsv)) AS l(lexeme)
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (user_id, lexeme) DO UPDATE SET passages = s.passages + excluded.passages;
  ELSE
    INSERT INTO search_keyword_stat AS s (user_id, lexeme, passages)
    SELECT r.user_id, l.lexeme, -count(*) FROM old_rows r, unnest(tsvector_to_array(r.search_tsv)) AS l(lexeme)
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (user_id, lexeme) DO UPDATE SET passages = s.passages + excluded.passages;
  END IF;
  RETURN NULL;
END $$""",
    """CREATE FUNCTION search_keyword_stat_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO search_keyword_stat AS s (user_id, lexeme, passages)
  SELECT c.user_id, c.lexeme, sum(c.n) FROM (
    SELECT n.user_id, l.lexeme, 1 AS n FROM new_rows n JOIN old_rows o ON o.id = n.id,
      unnest(tsvector_to_array(n.search_tsv)) AS l(lexeme)
      WHERE o.search_tsv IS DISTINCT FROM n.search_tsv OR o.user_id <> n.user_id
    UNION ALL
    SELECT o.user_id, l.lexeme, -1 FROM old_rows o JOIN new_rows n ON o.id = n.id,
      unnest(tsvector_to_array(o.search_tsv)) AS l(lexeme)
      WHERE o.search_tsv IS DISTINCT FROM n.search_tsv OR o.user_id <> n.user_id
  ) c GROUP BY c.user_id, c.lexeme HAVING sum(c.n) <> 0 ORDER BY c.user_id, c.lexeme
  ON CONFLICT (user_id, lexeme) DO UPDATE SET passages = s.passages + excluded.passages;
  RETURN NULL;
END $$""",
    "CREATE TRIGGER search_keyword_stat_ins AFTER INSERT ON search_passage REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION search_keyword_stat_apply()",
    "CREATE TRIGGER search_keyword_stat_del AFTER DELETE ON search_passage REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION search_keyword_stat_apply()",
    "CREATE TRIGGER search_keyword_stat_upd AFTER UPDATE ON search_passage REFERENCING OLD TABLE AS old_rows "
    "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION search_keyword_stat_update()",
    "CREATE TRIGGER search_keyword_stat_trunc AFTER TRUNCATE ON search_passage "
    "FOR EACH STATEMENT EXECUTE FUNCTION search_keyword_stat_apply()",
    "INSERT INTO search_keyword_stat (user_id, lexeme, passages) SELECT p.user_id, l.lexeme, count(*) "
    "FROM search_passage p, unnest(tsvector_to_array(p.search_tsv)) AS l(lexeme) GROUP BY 1, 2",
]
POSTGRES_STATS_BACKWARD = [
    "DROP TRIGGER IF EXISTS search_keyword_stat_trunc ON search_passage",
    "DROP TRIGGER IF EXISTS search_keyword_stat_upd ON search_passage",
    "DROP TRIGGER IF EXISTS search_keyword_stat_del ON search_passage",
    "DROP TRIGGER IF EXISTS search_keyword_stat_ins ON search_passage",
    "DROP FUNCTION IF EXISTS search_keyword_stat_update()",
    "DROP FUNCTION IF EXISTS search_keyword_stat_apply()",
    "DROP TABLE IF EXISTS search_keyword_stat",
]


create_postgres_stats = _on_postgresql(POSTGRES_STATS_FORWARD)


drop_postgres_stats = _on_postgresql(POSTGRES_STATS_BACKWARD)


# One GIN index over (user, words) instead of words alone (btree_gin indexes the integer):
# a user's matching rows are found without visiting the rows of everyone else who uses the
# words. Where btree_gin cannot be created (PostgreSQL's contrib missing, or no right to
# create it: it is a trusted extension since PostgreSQL 13), the words-only index stays and
# rankings are answered from it.
POSTGRES_USER_INDEX_FORWARD = [
    "CREATE INDEX search_passage_user_tsv_gin ON search_passage USING GIN ((user_id + 0), search_tsv)",
    "DROP INDEX IF EXISTS search_passage_tsv_gin",
]
POSTGRES_USER_INDEX_BACKWARD = [
    "CREATE INDEX IF NOT EXISTS search_passage_tsv_gin ON search_passage USING GIN (search_tsv)",
    "DROP INDEX IF EXISTS search_passage_user_tsv_gin",
]


def create_postgres_user_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    except DatabaseError as exc:
        log.warning("search: btree_gin unavailable (%s); keyword ranking keeps the words-only index", exc)
        return
    _run(schema_editor, POSTGRES_USER_INDEX_FORWARD)


drop_postgres_user_index = _on_postgresql(POSTGRES_USER_INDEX_BACKWARD)


reset_postgres_storage = _on_postgresql(POSTGRES_STORAGE_BACKWARD)


# GIN's fast update adds new entries to a pending list that every search using the index
# reads in full, whoever's entries they are, until the list is merged (by VACUUM, or by the
# writer that takes it past gin_pending_list_limit, 4 MB by default). At 20k passages a
# keyword ranking took 4.5 ms with 487 pending pages against 2.2 ms merged, and on a lab's
# server, with notes saved all day, a search reads half that list on average. Merged every
# 64 kB (the least PostgreSQL allows), a search reads at most ~8 pending pages, and writers
# merge small batches: 2 x 20k passages saved in 28-32 s against 24-25 s.
KEYWORD_INDEXES = ("search_passage_user_tsv_gin", "search_passage_tsv_gin")  # the second where btree_gin is missing
POSTGRES_PENDING_LIST_FORWARD = [f"ALTER INDEX IF EXISTS {index} SET (gin_pending_list_limit = 64)" for index in KEYWORD_INDEXES]
POSTGRES_PENDING_LIST_BACKWARD = [f"ALTER INDEX IF EXISTS {index} RESET (gin_pending_list_limit)" for index in KEYWORD_INDEXES]

limit_postgres_pending_list = _on_postgresql(POSTGRES_PENDING_LIST_FORWARD)
unlimit_postgres_pending_list = _on_postgresql(POSTGRES_PENDING_LIST_BACKWARD)
