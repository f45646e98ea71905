from django.conf import settings

from workers.liveness import alive_workers


def lablog(request):
    """Footer state for every page: whether any Celery worker is alive."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {"allow_signup": settings.ALLOW_SIGNUP}
    workers = alive_workers()
    return {
        "allow_signup": settings.ALLOW_SIGNUP,
        "workers_alive": bool(workers),
        "redis_down": workers is None,
    }
