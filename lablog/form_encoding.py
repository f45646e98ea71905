"""Form posts whose text is not valid UTF-8 are refused with a message.

Django decodes form fields with errors="replace", so a field with a stray Latin-1 byte
(a paste from an old editor, a client that sends the wrong charset) would be saved with
U+FFFD in place of the character, silently. This middleware checks the raw fields of a
urlencoded post, and compares a multipart one's decoded fields with its raw bytes, and
answers 400 with a page that says what happened; nothing is saved.
"""

from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.shortcuts import render


REPLACEMENT = "\ufffd"


def _declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def invalid_fields(request) -> list[str]:
    """Names of the posted fields whose text is not valid UTF-8. A body over Django's in-memory
    limit is left alone: reading it here would take from the view the error it answers
    itself (the import page's oversized paste) and its uploads are checked when imported."""
    content_type = request.META.get("CONTENT_TYPE", "")
    if _declared_length(request) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        return []
    if content_type.startswith("application/x-www-form-urlencoded"):
        bad = []
        for pair in request.body.split(b"&"):
            name, _, value = pair.partition(b"=")
            try:
                unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                bad.append(unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8", "replace"))
        return bad
    if content_type.startswith("multipart/form-data"):
        # Django replaced each undecodable byte run with U+FFFD; more of them in the decoded
        # fields than the body sent (as UTF-8) means some were not typed.
        raw = request.body
        fields = [(name, v) for name, values in request.POST.lists() for v in values]
        if sum(v.count(REPLACEMENT) for _, v in fields) > raw.count(REPLACEMENT.encode()):
            return list(dict.fromkeys(name for name, v in fields if REPLACEMENT in v))
    return []


class RefuseInvalidUtf8Middleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in ("POST", "PUT", "PATCH") and (bad := invalid_fields(request)):
            context = {"fields": bad, "back": request.META.get("HTTP_REFERER", "")}
            return render(request, "bad_form_encoding.html", context, status=400)
        return self.get_response(request)
