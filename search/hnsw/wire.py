"""The messages between web processes and searchd over its Unix socket.

A message is an 8-byte prefix (the header's and the payload's lengths, big-endian), a JSON
object (the header) and raw bytes (the payload: float32 vectors, row after row). Nothing
is ever unpickled, and a message past the size limits is refused before it is read, so a
confused or hostile peer costs an error, not memory or code execution.
"""

import json
import socket
import struct

import numpy as np

from search.models import DIMENSIONS

PREFIX = struct.Struct(">II")
MAX_HEADER_BYTES = 8 << 20  # a query's hits as JSON: 32 vectors x 100 hits stay far below
MAX_PAYLOAD_BYTES = 64 << 20  # vectors: 40k rows of 384 floats


class ProtocolError(Exception):
    """A message that is not one (wrong sizes, not a JSON object, cut short)."""


def send(sock: socket.socket, header: dict, payload: bytes = b"") -> None:
    head = json.dumps(header, separators=(",", ":")).encode()
    sock.sendall(PREFIX.pack(len(head), len(payload)) + head + payload)


def receive(sock: socket.socket) -> tuple[dict, bytes] | None:
    """The next message, or None when the peer closed the connection between messages."""
    prefix = _read(sock, PREFIX.size, eof_ok=True)
    if prefix is None:
        return None
    head_len, payload_len = PREFIX.unpack(prefix)
    if head_len > MAX_HEADER_BYTES or payload_len > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"message too large ({head_len} + {payload_len} bytes)")
    try:
        header = json.loads(_read(sock, head_len))
    except ValueError as exc:
        raise ProtocolError("header is not JSON") from exc
    if not isinstance(header, dict):
        raise ProtocolError("header is not a JSON object")
    return header, _read(sock, payload_len)


def _read(sock: socket.socket, size: int, eof_ok: bool = False) -> bytes | None:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            if eof_ok and got == 0:
                return None
            raise ProtocolError("connection closed in the middle of a message")
        got += n
    return bytes(buffer)


def vectors_to_bytes(vectors: np.ndarray) -> bytes:
    return np.ascontiguousarray(vectors, dtype=np.float32).tobytes()


def vectors_from_bytes(payload: bytes, rows: int) -> np.ndarray:
    if rows < 0 or len(payload) != rows * DIMENSIONS * 4:
        raise ProtocolError(f"{len(payload)} bytes are not {rows} vectors of {DIMENSIONS} floats")
    return np.frombuffer(payload, dtype=np.float32).reshape(rows, DIMENSIONS)
