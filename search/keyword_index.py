"""SQLite: one FTS5 index per user, so a user's keyword ranking depends on their data only.

FTS5's bm25 takes its statistics (number of documents, each word's document frequency,
average document length) from the whole table it ranks in. With one table for every user's
passages, one user's scores moved when another imported a corpus, and the ranking leaked
how often words occur in other people's notes. So each user has their own index:

- `search_passage_u<id>`: a view of the user's rows of search_passage, the index's
  external content (so FTS5's own 'rebuild' and 'integrity-check' cover exactly that user);
- `search_passage_fts_u<id>`: the FTS5 table (same columns and tokenizer as before);
- triggers on search_passage, `WHEN` the row is the user's, keeping it in step with every
  insert, delete and update, whoever writes (the ORM, a bulk load, a cascade, a flush).

Invariant: an index that exists is complete. It is created, its triggers added and filled
from the user's rows in one transaction (SQLite serialises writers, and 'rebuild' makes a
second, racing creation exact as well), and dropped with its triggers in one. Indexing
creates it before writing a user's first passage; a search that finds it missing (rows
written by a path that did not, a database restored from an old backup) creates it then;
migration 0006 creates it for existing users; deleting the user drops it in the deleting
transaction. A backup (SQLite's backup API) copies it like any table.

Matching walks only the user's own index, so a query no longer costs more as other users
add passages (bench/keyword_per_user.py, 572 passages a user: p50 1.21 ms alone, 1.19 ms
among 20 users). The price is three triggers per user on search_passage, each written row
running every user's (WHEN is tested inside each trigger's program): in plain SQLite
(bench/keyword_per_user.py, rows of 1,000 characters) 50 µs a row with one user, 56 with
20, 109 with 200, 0.94 ms with 1000. Through the app's write path (a save's index_note_text, ~20 ms a note) it measured
20.6 ms a note with 20 users' triggers, 26.2 with 200 and 24.4 with 1000 (within the noise
of a shared machine), so this is sound for a lab's tens or hundreds of accounts; past about a
thousand, the index should be kept by the writing code instead of triggers.

PostgreSQL needs none of this: ts_rank scores a row from its own tsvector and the query
alone (it takes no table and reads no corpus statistics), so only the row-budget counts
were shared there, and search/keyword.py counts the user's rows.
"""

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.utils import OperationalError

TOKENIZER = "porter unicode61"


def table(user_id: int) -> str:
    return f"search_passage_fts_u{int(user_id)}"


def _view(user_id: int) -> str:
    return f"search_passage_u{int(user_id)}"


def create_statements(user_id: int) -> list[str]:
    uid, fts, view = int(user_id), table(user_id), _view(user_id)
    insert = f"INSERT INTO {fts}(rowid, context, text) SELECT new.id, new.context, new.text"
    delete = f"INSERT INTO {fts}({fts}, rowid, context, text) SELECT 'delete', old.id, old.context, old.text"
    return [
        f"CREATE VIEW IF NOT EXISTS {view} AS SELECT id, context, text FROM search_passage WHERE user_id = {uid}",
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5("
        f"context, text, content='{view}', content_rowid='id', tokenize='{TOKENIZER}')",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ai AFTER INSERT ON search_passage WHEN new.user_id = {uid} "
        f"BEGIN {insert}; END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ad AFTER DELETE ON search_passage WHEN old.user_id = {uid} "
        f"BEGIN {delete}; END",
        # One trigger, old row out before the new one in (FTS5 needs that order for a rowid).
        f"CREATE TRIGGER IF NOT EXISTS {fts}_au AFTER UPDATE OF context, text, user_id ON search_passage "
        f"WHEN old.user_id = {uid} OR new.user_id = {uid} "
        f"BEGIN {delete} WHERE old.user_id = {uid}; {insert} WHERE new.user_id = {uid}; END",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]


def _drop(user_id: int) -> list[str]:
    fts = table(user_id)
    return [
        f"DROP TRIGGER IF EXISTS {fts}_au", f"DROP TRIGGER IF EXISTS {fts}_ad", f"DROP TRIGGER IF EXISTS {fts}_ai",
        f"DROP TABLE IF EXISTS {fts}", f"DROP VIEW IF EXISTS {_view(user_id)}",
    ]


def exists(connection, user_id: int) -> bool:
    """Whether `connection` (in its current transaction's view) sees the user's index. A
    statement naming a missing table fails while it is prepared, from the in-memory schema,
    so this costs microseconds and leaves the transaction as it was."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {table(user_id)} LIMIT 0")
        return True
    except OperationalError:
        return False


def _execute(connection, statements: list[str]) -> None:
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def ensure(user_id: int, connection=None) -> None:
    """Create the user's index, filled from their passages, unless it exists (SQLite only)."""
    connection = connection or connections[DEFAULT_DB_ALIAS]
    if connection.vendor == "sqlite" and not exists(connection, user_id):
        _execute(connection, create_statements(user_id))


def rebuild(user_id: int) -> None:
    """Drop and recreate the user's index from their passages (a re-index does this)."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor == "sqlite":
        _execute(connection, _drop(user_id) + create_statements(user_id))


def drop(user_id: int, connection=None) -> None:
    connection = connection or connections[DEFAULT_DB_ALIAS]
    if connection.vendor == "sqlite":
        _execute(connection, _drop(user_id))


def indexed_count(connection, user_id: int) -> int | None:
    """Passages in the user's index (one docsize row each), None without an index."""
    if not exists(connection, user_id):
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table(user_id)}_docsize")
        return cursor.fetchone()[0]


def user_ids_with_index(connection) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'search_passage_fts_u[0-9]*'")
        names = [name for (name,) in cursor.fetchall()]
    return sorted(int(name.rsplit("_u", 1)[1]) for name in names if name.rsplit("_u", 1)[1].isdigit())


# --- migration 0006: from the one shared FTS5 table to one per user -----------------------
def split_per_user(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "sqlite":
        return
    from search.keyword_schema import SQLITE_BACKWARD

    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT user_id FROM search_passage")
        user_ids = [uid for (uid,) in cursor.fetchall()]
    for user_id in user_ids:
        _execute(connection, create_statements(user_id))
    _execute(connection, SQLITE_BACKWARD)


def merge_back(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "sqlite":
        return
    from search.keyword_schema import SQLITE_FORWARD

    for user_id in user_ids_with_index(connection):
        _execute(connection, _drop(user_id))
    _execute(connection, SQLITE_FORWARD + ["INSERT INTO search_passage_fts(search_passage_fts) VALUES ('rebuild')"])
