"""One consistent view of the database for everything a search reads.

A search reads the user's index position, catches its in-memory index up to it (loading
it from a snapshot if needed), ranks, then reads the ranked passages. Other processes
commit meanwhile: a model switch makes another model active and removes the old one's rows
in one commit, and a search that read the position before that commit and the rows after
it ranked on rows it can no longer see, and came back empty. Inside `repeatable_read()`
every read sees the database as it was at the first one, so a search reads exactly the rows
of the position it ranked against.

The reads go to a second connection alias, READ_ALIAS (same database), in a transaction
opened with Django's atomic(): on PostgreSQL that connection is REPEATABLE READ, on SQLite
its transactions begin DEFERRED (in WAL mode a read snapshot that blocks no writer), where
the default connection's begin IMMEDIATE (a writer's lock, so writers never deadlock) and
would queue searches behind writes. While a view is open, ConsistentReadRouter sends this
thread's ORM reads to that alias; writes still go to the default connection.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.db import DEFAULT_DB_ALIAS, connections, transaction

READ_ALIAS = "search_read"
_reading: ContextVar[bool] = ContextVar("search_consistent_read", default=False)


def read_alias(default: dict) -> dict:
    """The settings of READ_ALIAS, from the default database's."""
    alias = {**default, "OPTIONS": dict(default.get("OPTIONS", {})), "TEST": {"MIRROR": DEFAULT_DB_ALIAS}}
    if default["ENGINE"] == "django.db.backends.sqlite3":
        alias["OPTIONS"]["transaction_mode"] = "DEFERRED"
    elif default["ENGINE"] == "django.db.backends.postgresql":
        from psycopg import IsolationLevel

        alias["OPTIONS"]["isolation_level"] = IsolationLevel.REPEATABLE_READ
    return alias


class ConsistentReadRouter:
    """Reads inside repeatable_read() go to READ_ALIAS; nothing is migrated there (it is the
    default database under another connection)."""

    def db_for_read(self, model, **hints):
        return READ_ALIAS if _reading.get() else None

    def allow_migrate(self, db, app_label, **hints):
        return False if db == READ_ALIAS else None


# A search reads a few hundred rows of a user's passages and notes, pages PostgreSQL holds in
# memory, where a page fetched at random costs about what one read in sequence does. At the
# default random_page_cost (4, priced for spinning disks) the planner hashed all of a user's
# notes to check the owner of ~100 candidate passages (0.8 ms of a search at 4k notes) instead
# of looking each up by key. Set once per connection (no startup option: PgBouncer refuses those).
READ_RANDOM_PAGE_COST = 1.1


def configure_read_connection(sender, connection, **kwargs) -> None:
    """connection_created: the search's read connection on PostgreSQL plans for pages in memory."""
    if connection.alias == READ_ALIAS and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET random_page_cost = {READ_RANDOM_PAGE_COST}")


@contextmanager
def repeatable_read():
    """Every read inside sees the database as of the first one; nothing inside may write.
    Inside a transaction of the caller's (a test's, say), that transaction's view applies."""
    if _reading.get() or connections[DEFAULT_DB_ALIAS].in_atomic_block:
        yield
        return
    with transaction.atomic(using=READ_ALIAS):
        token = _reading.set(True)
        try:
            yield
        finally:
            _reading.reset(token)


def read_connection():
    """The connection this thread's reads use now (for raw SQL that must share the view)."""
    return connections[READ_ALIAS if _reading.get() else DEFAULT_DB_ALIAS]
