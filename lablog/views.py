import time

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import UserCreationForm
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from workers.liveness import alive_workers, redis_client


class SignupForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username",)


def signup(request):
    if not settings.ALLOW_SIGNUP:
        raise Http404("Sign-up is switched off on this Lablog.")
    if request.user.is_authenticated:
        return redirect("notes:log")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save(commit=False)
        # The first account runs the place: staff and superuser, so it can use the admin.
        if not get_user_model().objects.exists():
            user.is_staff = user.is_superuser = True
        user.save()
        login(request, user)
        return redirect("notes:log")
    return render(request, "registration/signup.html", {"form": form})


def _timed(check):
    started = time.perf_counter()
    try:
        detail = check()
        ok = True
    except Exception as exc:  # a health page reports every failure, whatever its kind
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor


def _redis():
    redis_client().ping()
    return "embedded" if settings.REDIS_EMBEDDED else "external"


def _workers():
    workers = alive_workers()
    if workers is None:
        raise ConnectionError("Redis is unreachable, worker heartbeats unknown")
    if not workers:
        raise LookupError("no worker alive")
    return [{"hostname": w["hostname"], "queues": w["queues"]} for w in workers]


@never_cache
def healthz(request):
    checks = {"database": _timed(_database), "redis": _timed(_redis), "workers": _timed(_workers)}
    ok = all(c["ok"] for c in checks.values())
    return JsonResponse({"ok": ok, **checks}, status=200 if ok else 503)
