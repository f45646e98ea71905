"""Which account an export came from, so importing it into that same account finds the
rows it names instead of creating copies.

Rows made in the app have no source key; an export names them `lablog:<kind>:<id>`. An id
means the same row only in the account (and database) it was taken from, which the export
records as a fingerprint of the account: its id and the instant it joined. A restored
backup keeps both, so it counts as the same account; another account or instance does not.
"""

import hashlib
import re

_OWN_KEY = re.compile(r"^lablog:(?P<kind>[a-z]+):(?P<pk>\d+)$")
_ACCOUNT_KEY = re.compile(r"^lablog:(?P<kind>[a-z]+):(?P<pk>\d+)@(?P<origin>[0-9a-f]+)$")


def fingerprint(user) -> str:
    joined = user.date_joined.isoformat() if user.date_joined else ""
    return hashlib.sha256(f"{user.pk}\x1f{joined}".encode()).hexdigest()[:24]


def own_pk(key: str, kind: str, same_account: bool) -> int | None:
    """The row id an exported key names here, when the export is this account's own."""
    match = _OWN_KEY.match(key or "")
    if not same_account or not match or match.group("kind") != kind:
        return None
    return int(match.group("pk"))


def account_key(user, kind: str, pk: int) -> str:
    """A key that says which account it is from (for files that travel alone, like a vault's notes)."""
    return f"lablog:{kind}:{pk}@{fingerprint(user)}"


def account_pk(key: str, kind: str, user) -> int | None:
    """The row id an account_key names, when it is this user's own."""
    match = _ACCOUNT_KEY.match(key or "")
    if not match or match.group("kind") != kind or match.group("origin") != fingerprint(user):
        return None
    return int(match.group("pk"))
