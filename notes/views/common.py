def partial_or_page(request, template_name: str, partial: str) -> str:
    """The named partial of the page for an htmx request, the whole page otherwise
    (a boosted request or a history restore needs the whole page too)."""
    htmx = request.htmx
    if htmx and not htmx.boosted and not htmx.history_restore_request:
        return f"{template_name}#{partial}"
    return template_name
