"""Creating accounts: the first one runs the place (staff and superuser), and exactly one
does, however many sign up at the same instant.

"Is there any account yet?" and creating this one happen in one transaction that only
one sign-up holds at a time: SQLite's immediate transactions take the write lock at
BEGIN; on PostgreSQL a transaction-scoped advisory lock does the same.
"""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction

# Any constant; it names the "creating an account" lock among PostgreSQL advisory locks.
_SIGNUP_LOCK = 0x4C61_6231  # "Lab1"


class UsernameTaken(Exception):
    """Another sign-up took the name between the form's check and this save."""


def _serialize_signups() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SIGNUP_LOCK])
    # SQLite: the atomic block's BEGIN IMMEDIATE already holds the database's write lock.


def create_account(user):
    """Save a new (unsaved) user; the first account on this Lablog becomes staff and superuser."""
    try:
        with transaction.atomic():
            _serialize_signups()
            first = not get_user_model().objects.exists()
            user.is_staff = user.is_superuser = first
            user.save()
    except IntegrityError:
        raise UsernameTaken(user.get_username()) from None
    return user
