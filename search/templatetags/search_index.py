"""Template helpers of the search index: whether meaning search is warming up."""

from django import template

from search import hnsw

register = template.Library()


@register.simple_tag(takes_context=True)
def meaning_warming_up(context) -> bool:
    """True when this process's last search of the signed-in user found no index by meaning
    (search answered by words): none to load yet (the index writer is building one), or
    searchd not answering."""
    request = context.get("request")
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated and hnsw.warming_up(user.pk))
