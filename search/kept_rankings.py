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
passage), per user: one user's search never makes another's faster.
"""

import threading
from array import array
from collections import OrderedDict

from django.conf import settings

Rankings = dict[str, list[tuple[int, float]]]

_kept: OrderedDict[tuple, dict[str, tuple[array, array]]] = OrderedDict()
_lock = threading.Lock()  # make run's web processes serve requests on several threads


def get(key: tuple) -> Rankings | None:
    """The rankings kept for `key`, or None."""
    with _lock:
        packed = _kept.get(key)
        if packed is None:
            return None
        _kept.move_to_end(key)
    return {name: list(zip(ids, scores)) for name, (ids, scores) in packed.items()}


def keep(key: tuple, rankings: Rankings) -> None:
    if settings.SEARCH_RANKINGS_KEPT <= 0:
        return
    packed = {name: (array("q", [pk for pk, _ in ranking]), array("d", [score for _, score in ranking]))
              for name, ranking in rankings.items()}
    with _lock:
        _kept[key] = packed
        _kept.move_to_end(key)
        while len(_kept) > settings.SEARCH_RANKINGS_KEPT:
            _kept.popitem(last=False)


def forget() -> None:
    """Drop every kept ranking (tests: ids and positions start again after a rollback)."""
    with _lock:
        _kept.clear()
