"""A question's passage rankings, kept to answer it again without ranking again.

The same question comes back for the next page of results, a filter changed in place, the
full page after the header's dropdown, and the back button; ranking it again (the keyword
SQL and its rescoring, the lookup by meaning) is most of a search's CPU. As Solr's
queryResultCache does, the rankings are kept against the user's index position: every
change to the user's passages takes a new position (search/indexing.py), so a ranking is
used again only while the passages it ranked are the ones the search reads. What a page
shows of them (the filters, the hits' rows and tags) is read again at every search, so a
note deleted, retagged or renamed meanwhile shows as it is now.

Kept in this process for the last SEARCH_RANKINGS_KEPT questions (packed: 16 bytes a
passage) and, since each of those requests may land on another web process, in Redis
(search/shared_per_user.py) for SHARED_SECONDS. Per user: one user's search never makes
another's faster.
"""

import hashlib
import struct
import threading
from array import array
from collections import OrderedDict

from django.conf import settings

from search.shared_per_user import SharedPerUser

Rankings = dict[str, list[tuple[int, float]]]
Packed = dict[str, tuple[array, array]]

_kept: OrderedDict[tuple, Packed] = OrderedDict()
_lock = threading.Lock()  # make run's web processes serve requests on several threads

# A ranking is ~1.6 kB on PostgreSQL (50 deep), ~6.4 kB on SQLite (200): at most ~0.8 MB of
# Redis a user on PostgreSQL. As many as a question's vectors: the dropdown asks for each
# word typed, and a user's hash starts again past this. Shorter-lived than a vector: a
# ranking serves a question's next requests, and each new position of the user's passages
# makes new ones.
SHARED_SECONDS = 600
SHARED_PER_USER = 512
_shared = SharedPerUser("search-rankings", SHARED_SECONDS, SHARED_PER_USER)


def get(key: tuple) -> Rankings | None:
    """The rankings kept for `key` (user id, then what else they depend on), or None."""
    with _lock:
        packed = _kept.get(key)
        if packed is not None:
            _kept.move_to_end(key)
    if packed is None and settings.SEARCH_RANKINGS_KEPT > 0:
        packed = _from_bytes(_shared.get(key[0], _field(key)))
        if packed is not None:
            _keep_here(key, packed)
    if packed is None:
        return None
    return {name: list(zip(ids, scores)) for name, (ids, scores) in packed.items()}


def keep(key: tuple, rankings: Rankings) -> None:
    if settings.SEARCH_RANKINGS_KEPT <= 0:
        return
    packed = {name: (array("q", [pk for pk, _ in ranking]), array("d", [score for _, score in ranking]))
              for name, ranking in rankings.items()}
    _keep_here(key, packed)
    _shared.put(key[0], _field(key), _to_bytes(packed))


def _keep_here(key: tuple, packed: Packed) -> None:
    with _lock:
        _kept[key] = packed
        _kept.move_to_end(key)
        while len(_kept) > settings.SEARCH_RANKINGS_KEPT:
            _kept.popitem(last=False)


def _field(key: tuple) -> bytes:
    # The key's parts are ints, strings, None and tuples of them: repr is the same in every process.
    return hashlib.sha256(repr(key).encode()).digest()


def _to_bytes(packed: Packed) -> bytes:
    """Per ranking: its name's length and passages' count, its name, the ids, the scores."""
    parts = []
    for name, (ids, scores) in packed.items():
        raw = name.encode()
        parts += [struct.pack("<BI", len(raw), len(ids)), raw, struct.pack(f"<{len(ids)}q{len(ids)}d", *ids, *scores)]
    return b"".join(parts)


def _from_bytes(raw: bytes | None) -> Packed | None:
    """The rankings _to_bytes wrote; None for anything else (nothing kept, or another format)."""
    if raw is None:
        return None
    packed, at = {}, 0
    try:
        while at < len(raw):
            length, count = struct.unpack_from("<BI", raw, at)
            at += 5
            name = raw[at : at + length].decode()
            at += length
            values = struct.unpack_from(f"<{count}q{count}d", raw, at)
            at += 16 * count
            packed[name] = (array("q", values[:count]), array("d", values[count:]))
    except (struct.error, UnicodeDecodeError):
        return None
    return packed


def forget_here() -> None:
    """Drop this process's kept rankings (the shared ones stay, as for a web process just started)."""
    with _lock:
        _kept.clear()


def forget() -> None:
    """Drop every kept ranking, this process's and the shared ones (tests: ids and positions
    start again after a rollback)."""
    forget_here()
    _shared.forget()
