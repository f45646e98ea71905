import time

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.contrib.auth.views import LoginView
from django.db import connection
from django.http import Http404, HttpResponseServerError, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.views.decorators.cache import never_cache

from lablog import login_throttle
from lablog.accounts import UsernameTaken, create_account
from lablog.redis_clients import redis_client
from search.hnsw import remote
from workers.liveness import alive_workers


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
        try:
            # The first account runs the place: staff and superuser, so it can use the admin.
            user = create_account(form.save(commit=False))
        except UsernameTaken:
            form.add_error("username", "Someone just took this username; choose another.")
        else:
            login(request, user)
            return redirect("notes:log")
    return render(request, "registration/signup.html", {"form": form})


class ThrottledAuthenticationForm(AuthenticationForm):
    """Sign-in that slows down, then refuses, repeated failures (lablog/login_throttle.py)."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = login_throttle.client_address(self.request)
        verdict = login_throttle.check(username, address)
        if verdict.refused:
            minutes = -(-verdict.retry_after // 60)
            raise forms.ValidationError(
                f"Too many failed sign-ins. Sign-in is paused for this account or address; "
                f"try again in {minutes} minute{'s' if minutes != 1 else ''}.",
                code="throttled",
            )
        login_throttle.wait(verdict)
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            login_throttle.failed(username, address)
            raise
        login_throttle.succeeded(username)
        return cleaned


class ThrottledLoginView(LoginView):
    form_class = ThrottledAuthenticationForm


def _timed(check):
    started = time.perf_counter()
    try:
        detail = check()
        ok = True
    except Exception as exc:  # a health page reports every failure, whatever its kind
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _searchd():
    stats = remote.stats()
    return {"pid": stats["pid"], "indexes": len(stats["held"]), "memory_mb": round(stats["memory_bytes"] / 2**20, 1),
            "budget_mb": stats["budget_mb"]}


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
    """Up or down for anyone (a load balancer, a monitor); what each check found only for
    staff, since its details name hosts, sockets and exceptions."""
    checks = {"database": _timed(_database), "redis": _timed(_redis), "workers": _timed(_workers)}
    ok = all(c["ok"] for c in checks.values())
    status = 200 if ok else 503
    if not request.user.is_staff:
        return JsonResponse({"ok": ok}, status=status)
    if settings.SEARCH_INDEX_SOCKET:
        # Without searchd, searches answer by words and say so: worth a look, not "down".
        checks["searchd"] = _timed(_searchd)
    return JsonResponse({"ok": ok, **checks}, status=status)


def server_error(request):
    """Django's plain 500 view with the log's address given: no URL resolving, no request
    context, no database, nothing that could fail a second time."""
    return HttpResponseServerError(loader.render_to_string("500.html", {"log_url": settings.URL_PREFIX + "/"}))
