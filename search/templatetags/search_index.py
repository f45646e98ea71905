"""Template helpers of the search index: whether meaning search is warming up."""

from django import template

from search import hnsw

register = template.Library()


@register.simple_tag(takes_context=True)
def meaning_warming_up(context) -> bool:
    """True when this process's last search of the signed-in user found no index to load
    (search answered by words; the index writer is building one)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated and hnsw.warming_up(user.pk))
