from functools import cache

from django.conf import settings

from workers.liveness import alive_workers


def lablog(request):
    """Footer state for every page: whether any Celery worker is alive."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {"allow_signup": settings.ALLOW_SIGNUP}
    # Callables, so Redis is asked (once) only when a template shows the footer: htmx
    # fragments such as the live search dropdown never do.
    workers = cache(alive_workers)
    return {
        "allow_signup": settings.ALLOW_SIGNUP,
        "workers_alive": lambda: bool(workers()),
        "redis_down": lambda: workers() is None,
    }
