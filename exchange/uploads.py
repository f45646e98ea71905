def declared_length(request) -> int:
    """The request's Content-Length, to refuse an oversized body before reading it (0 when absent
    or not a number: Django then still reads at most DATA_UPLOAD_MAX_MEMORY_SIZE of a form)."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
