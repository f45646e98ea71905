"""A web process's side of searchd (search/hnsw/daemon.py says why there is one): the same
interface as the in-process registry, with every call going over SEARCH_INDEX_SOCKET.

`get_index` reads the user's position in the caller's consistent view, so the model it
names to searchd is the one the rest of the search reads rows of, and returns a
RemoteIndex whose query, query_many, vectors and live ask searchd. Each thread keeps one
connection, opened on first use and again after any failure: a restarted searchd is picked
up by the next search, with no restart of the web processes.

searchd down, refusing, or slower than SEARCH_INDEX_TIMEOUT: get_index raises WarmingUp, so
the search answers by words and the page says meaning search is warming up; a failure
after get_index (searchd killed between two calls of one search) gives no hits by meaning
and the same notice. A search never fails for searchd. After a timeout the process leaves
searchd alone for PAUSE_AFTER_TIMEOUT seconds, so a stuck searchd does not make every
search wait.
"""

import logging
import socket
import threading
import time

import numpy as np
from django.conf import settings

from lablog.backoff import Backoff
from search.hnsw import models_in_use, wire
from search.hnsw.registry import WarmingUp
from search.hnsw.user_index import position
from search.models import DIMENSIONS

log = logging.getLogger(__name__)
PAUSE_AFTER_TIMEOUT = 5.0
WARN_EVERY_SECONDS = 60.0  # while searchd is down every search would say so: once a minute does

_local = threading.local()  # this thread's connection: (socket path, socket)
_state_lock = threading.Lock()
_warming: set[int] = set()  # users whose last search here found no index by meaning
_pause = Backoff(PAUSE_AFTER_TIMEOUT)
_warned_at = -WARN_EVERY_SECONDS


class Unavailable(Exception):
    """searchd did not answer (not running, restarting, timed out, or failed)."""


def _connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(settings.SEARCH_INDEX_TIMEOUT)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return sock


def _drop_connection() -> None:
    held = getattr(_local, "connection", None)
    _local.connection = None
    if held is not None:
        held[1].close()


def call(header: dict, payload: bytes = b"") -> tuple[dict, bytes]:
    """searchd's reply to one request; Unavailable when there is none."""
    path = settings.SEARCH_INDEX_SOCKET
    if _pause.paused:
        raise Unavailable("searchd timed out a moment ago")
    try:
        reply = _round_trip(path, header, payload)
    except TimeoutError as exc:
        _pause.failed()
        raise Unavailable(f"searchd did not answer within {settings.SEARCH_INDEX_TIMEOUT} s") from exc
    except (OSError, wire.ProtocolError) as exc:
        raise Unavailable(f"searchd at {path}: {exc}") from exc
    if reply[0].get("error") == "warming_up":
        raise WarmingUp("searchd has no index of this user to load yet")
    if not reply[0].get("ok"):
        raise Unavailable(f"searchd: {reply[0]}")
    return reply


def _round_trip(path: str, header: dict, payload: bytes) -> tuple[dict, bytes]:
    """On this thread's connection; one that searchd closed (it restarted since) is tried
    once more on a fresh connection (every request is a read, safe to repeat)."""
    held = getattr(_local, "connection", None)
    if held is not None and held[0] == path:
        try:
            return _exchange(held[1], header, payload)
        except TimeoutError:
            _drop_connection()
            raise
        except (OSError, wire.ProtocolError):
            pass
    _drop_connection()
    _local.connection = (path, _connect(path))
    try:
        return _exchange(_local.connection[1], header, payload)
    except (OSError, wire.ProtocolError):
        _drop_connection()  # the reply may still come: this connection is out of step
        raise


def _exchange(sock: socket.socket, header: dict, payload: bytes) -> tuple[dict, bytes]:
    wire.send(sock, header, payload)
    reply = wire.receive(sock)
    if reply is None:
        raise wire.ProtocolError("searchd closed the connection")
    return reply


def _warn(exc: Exception) -> None:
    global _warned_at
    now = time.monotonic()
    if now - _warned_at >= WARN_EVERY_SECONDS:
        _warned_at = now
        log.warning("search by meaning unavailable, searches answer by words: %s", exc)


def _mark(user_id: int, warming: bool) -> None:
    with _state_lock:
        (_warming.add if warming else _warming.discard)(user_id)


def get_index(user_id: int, state: tuple | None = None) -> "RemoteIndex":
    """The user's index in searchd, for the model their searches use (caught up there).
    `state`: the user's position() where the caller has read it in the same view."""
    model = models_in_use.searched(user_id, (state or position(user_id))[2])
    try:
        call({"op": "open", "user": user_id, "model": model})
    except (WarmingUp, Unavailable) as exc:
        if isinstance(exc, Unavailable):
            _warn(exc)
        _mark(user_id, True)
        raise WarmingUp(str(exc)) from exc
    _mark(user_id, False)
    return RemoteIndex(user_id, model)


def warming_up(user_id: int) -> bool:
    """Whether this process's last search of the user found no index by meaning."""
    with _state_lock:
        return user_id in _warming


def forget(user_id: int | None = None, model: str | None = None) -> None:
    """Tell searchd to drop indexes (a deleted account, a finished model switch); nothing
    to do when it is not running (it holds none)."""
    with _state_lock:
        if user_id is None:
            _warming.clear()
        else:
            _warming.discard(user_id)
    try:
        call({"op": "forget", "user": user_id, "model": model})
    except (WarmingUp, Unavailable):
        pass


def stats() -> dict:
    """searchd's pid, indexes held and their memory; Unavailable when it does not answer."""
    return call({"op": "stats"})[0]


class RemoteIndex:
    """One user's index in searchd, for one model: what search/services.py uses of a UserIndex."""

    def __init__(self, user_id: int, model: str):
        self.user_id = user_id
        self.model = model
        self._live: set[int] | None = None

    @property
    def live(self) -> set[int]:
        """The passages the index holds, as this search opened it (fetched once: 0.8 MB at
        100k passages, one round trip)."""
        if self._live is None:
            reply = self._ask({"op": "live"})
            self._live = set(np.frombuffer(reply[1], dtype=np.int64).tolist()) if reply else set()
        return self._live

    def _ask(self, header: dict, payload: bytes = b"") -> tuple[dict, bytes] | None:
        try:
            return call({**header, "user": self.user_id, "model": self.model}, payload)
        except (WarmingUp, Unavailable) as exc:
            _warn(exc)
            _mark(self.user_id, True)
            return None

    def query(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(passage id, cosine similarity) of the k nearest live vectors."""
        return self.query_many(np.asarray(vector).reshape(1, -1), k)[0]

    def query_many(self, vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        if not len(vectors):
            return []
        reply = self._ask({"op": "query", "k": int(k), "rows": len(vectors)}, wire.vectors_to_bytes(vectors))
        if reply is None:
            return [[] for _ in range(len(vectors))]
        return [[(int(label), float(score)) for label, score in found] for found in reply[0]["found"]]

    def vectors(self, labels: list[int]) -> np.ndarray:
        reply = self._ask({"op": "vectors", "labels": [int(label) for label in labels]}) if labels else None
        if reply is None:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return wire.vectors_from_bytes(reply[1], reply[0]["rows"])

