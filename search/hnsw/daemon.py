"""searchd: the one process per machine that holds the search indexes (`manage.py searchd`).

Why a process of its own: every web process used to keep its own copy of each user's HNSW
index, so memory grew with the number of processes (3 gunicorn processes x 50 users x 185
MB at 100k passages ~ 28 GB). Sharing one copy through the page cache would need an index
that is searched straight from a mapped file; hnswlib reads its file into its own heap
(load_index copies every element into malloc'd memory), so each process would still hold
a private copy. So one process owns the registry (search/hnsw/registry.py: per-user load
locks, SEARCH_INDEX_MEMORY_MB budget with least-recently-used eviction, snapshot reloads)
and web processes ask it over a local Unix socket (SEARCH_INDEX_SOCKET; search/hnsw/remote.py
is their side). The budget and the eviction then apply once per machine.

What it costs: one round trip on the socket per call (a search makes two: open, which
catches up, and query),
measured by bench/lab_scale.py (section searchd); the query vector travels as raw float32
bytes, the hits as JSON, a note's related-notes lookup fetches the index's live labels
once (int64 bytes) and the vectors of the note's passages.

Each request names the user and the model (the one the caller's searches use, read in the
caller's consistent view). A search's first request (open) catches that index up to every
committed vector before answering, and its later ones use the index as caught up then, as
an in-process search uses the index object it got: nothing committed is ever missed. A
user's requests only ever reach that user's index: labels outside it are refused.

One thread per connection (web processes keep one connection per thread): hnswlib releases
the GIL while it searches, and each thread has its own database connection.
"""

import logging
import os
import socket
import socketserver
import threading

import numpy as np
from django.conf import settings
from django.db import close_old_connections, connections

from search.hnsw import registry, wire

log = logging.getLogger(__name__)


def answer(header: dict, payload: bytes) -> tuple[dict, bytes]:
    """The reply to one request (ops: stats, forget, open, query, vectors, live)."""
    op = header.get("op")
    if op == "stats":
        return {
            "ok": True, "pid": os.getpid(), "held": registry.held_keys(), "memory_bytes": registry.memory_in_use(),
            "budget_mb": settings.SEARCH_INDEX_MEMORY_MB,
        }, b""
    if op == "forget":
        user_id = header.get("user")
        registry.forget(None if user_id is None else int(user_id), header.get("model"))
        return {"ok": True}, b""
    user_id, model = int(header["user"]), str(header["model"])
    if op == "open":  # the start of each search: caught up with every committed vector
        return {"ok": True, "live": len(registry.get_index(user_id, model, searching=True).live)}, b""
    # Asked within a search that opened the index a moment ago: the index as that open caught
    # it up will do, as an in-process search keeps using the index object it got.
    idx = registry.held(user_id, model) or registry.get_index(user_id, model, searching=True)
    if op == "query":
        found = idx.query_many(wire.vectors_from_bytes(payload, int(header["rows"])), int(header["k"]))
        return {"ok": True, "found": found}, b""
    if op == "live":
        with idx.lock.read():  # catching up changes the set
            live = np.fromiter(idx.live, dtype=np.int64, count=len(idx.live))
        return {"ok": True, "count": len(live)}, live.tobytes()
    if op == "vectors":
        labels = [int(label) for label in header["labels"]]
        if not idx.live.issuperset(labels):  # only the user's own passages, never anyone else's
            return {"error": "unknown_labels"}, b""
        return {"ok": True, "rows": len(labels)}, wire.vectors_to_bytes(idx.vectors(labels))
    return {"error": "unknown_op"}, b""


class _Connection(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            while (message := wire.receive(self.request)) is not None:
                close_old_connections()  # a database restart costs one request, not the thread
                try:
                    reply, data = answer(*message)
                except registry.WarmingUp:
                    reply, data = {"error": "warming_up"}, b""
                except (KeyError, TypeError, ValueError, wire.ProtocolError) as exc:
                    reply, data = {"error": "bad_request", "detail": str(exc)}, b""
                except Exception as exc:  # the caller answers by words; the log says why
                    log.exception("searchd failed to answer %s", message[0].get("op"))
                    reply, data = {"error": "failed", "detail": type(exc).__name__}, b""
                wire.send(self.request, reply, data)
        except (OSError, wire.ProtocolError):
            pass  # the caller went away or spoke nonsense: its next connection starts afresh
        finally:
            connections.close_all()


class Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


def bind(path: str) -> Server:
    """Listen on `path` (readable and writable by this user only). A socket file left by a
    searchd that died is replaced; one with a searchd answering on it is an error."""
    if os.path.exists(path):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)
        else:
            raise RuntimeError(f"another searchd is listening on {path}")
        finally:
            probe.close()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    mask = os.umask(0o177)
    try:
        return Server(path, _Connection)
    finally:
        os.umask(mask)


def serve(server: Server, path: str) -> None:
    """Serve until server.shutdown() (from another thread), then remove the socket file."""
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        registry.wait_for_background_loads(5.0)
        if os.path.exists(path):
            os.unlink(path)


def stop_in_background(server: Server) -> None:
    """shutdown() waits for serve_forever to return, so a signal handler on the serving
    thread must not call it itself."""
    threading.Thread(target=server.shutdown, daemon=True).start()
