"""One consistent view of the database for everything a search reads.

A search reads the user's index position, catches its in-memory index up to it (loading
it from a snapshot or the database if needed), ranks, then reads the ranked passages.
Other processes commit meanwhile: a model switch makes another model active and removes
the old one's rows in one commit, and a search that read the position before that commit
and the rows after it ranked on rows it can no longer see, and came back empty. Inside
`repeatable_read()` every read sees the database as it was at the first one, so a search
reads exactly the rows of the position it ranked against.

Django's atomic() does not give this: on SQLite it begins IMMEDIATE (a writer's lock,
taken so that writers never deadlock, see settings), which would queue searches behind
writes; and it sets no isolation level on PostgreSQL. So the transaction is begun here,
as Django itself begins one in autocommit mode: PostgreSQL's REPEATABLE READ (read only),
SQLite's deferred read transaction (in WAL mode it holds a snapshot and blocks no writer).
"""

from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

BEGIN = {"postgresql": "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "sqlite": "BEGIN DEFERRED"}


@contextmanager
def repeatable_read(using: str = DEFAULT_DB_ALIAS):
    """Every read inside sees the database as of the first one; nothing inside may write.
    Inside a transaction of the caller's (a test's, say), that transaction's view applies."""
    connection = connections[using]
    begin = BEGIN.get(connection.vendor)
    if begin is None or connection.in_atomic_block or not connection.get_autocommit():
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(begin)
    try:
        yield
    except BaseException:
        try:
            with connection.cursor() as cursor:
                cursor.execute("ROLLBACK")
        except DatabaseError:
            # A kept connection must never stay in this transaction: it would read this
            # instant's data from then on.
            connection.close()
        raise
    with connection.cursor() as cursor:
        cursor.execute("COMMIT")
