"""Bounds on what the import page reads: the declared body size, and what is left of a form
whose pasted text was over DATA_UPLOAD_MAX_MEMORY_SIZE (Django stops reading it there)."""

import io
import math

from django.http import QueryDict
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.utils.http import parse_header_parameters

_CHUNK = 64 * 1024


def declared_length(request) -> int:
    """The request's Content-Length, to refuse an oversized body before reading it (0 when absent
    or not a number: Django then still reads at most DATA_UPLOAD_MAX_MEMORY_SIZE of a form)."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def megabytes(size: int) -> str:
    """`5242880` -> `5 MB`, `6400000` -> `6.2 MB` (rounded up, so a text over a limit never reads as equal to it)."""
    return f"{math.ceil(size / 2**20 * 10) / 10:.1f}".removesuffix(".0") + " MB"


def rest_of_oversized_form(request) -> tuple[int, QueryDict]:
    """After Django refused a multipart form whose text field was over DATA_UPLOAD_MAX_MEMORY_SIZE
    (it stops reading inside that field): about how many bytes the field holds, and the fields
    sent after it, read from the rest of the body (bounded by the upload cap checked before)."""
    _, params = parse_header_parameters(request.META.get("CONTENT_TYPE", ""))
    if not params.get("boundary"):
        # Not multipart (an urlencoded post): nothing was read, and nothing else can be had cheaply.
        _drain(request)
        return declared_length(request), QueryDict()
    tail, tail_length = _from_next_part(request, b"\r\n--" + params["boundary"].encode("ascii", "replace"))
    return max(declared_length(request) - tail_length, 0), _parse_parts(request, tail)


def _from_next_part(request, marker: bytes) -> tuple[bytes, int]:
    """Read the body on to the next part: (up to a chunk of the body from there, how many bytes that was in all)."""
    window = b""
    while chunk := request.read(_CHUNK):
        window += chunk
        if (at := window.find(marker)) >= 0:
            # The parts after the text are a few small fields: a chunk holds them.
            tail = window[at + 2:] + request.read(_CHUNK)
            return tail, 2 + len(tail) + _drain(request)
        window = window[-len(marker):]
    return b"", 0


def _drain(request) -> int:
    """Read (and drop) what is left of the body, so the browser gets the answer, not a reset connection."""
    count = 0
    while chunk := request.read(_CHUNK):
        count += len(chunk)
    return count


def _parse_parts(request, body: bytes) -> QueryDict:
    """The form fields among these multipart parts (files are not kept)."""
    meta = {"CONTENT_TYPE": request.META["CONTENT_TYPE"], "CONTENT_LENGTH": str(len(body))}
    try:
        fields, _ = MultiPartParser(meta, io.BytesIO(body), [], request.encoding).parse()
    except MultiPartParserError:
        return QueryDict()
    return fields
