from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from workers.models import Run
from workers.panel import run_card_context


def _owned_run(request, pk):
    return get_object_or_404(
        Run.objects.for_user(request.user).select_related("runnable__note").prefetch_related("artifacts"), pk=pk
    )


@login_required
def run_detail(request, pk):
    """The run page; for htmx, the run card alone (its polling stops with 286 once the run ended)."""
    run = _owned_run(request, pk)
    standalone = not request.htmx or request.GET.get("standalone") == "1"
    context = {**run_card_context(run), "standalone": standalone}
    if request.htmx:
        response = render(request, "workers/run.html#run_card", context)
        if not run.ended:
            return response
        stop = HttpResponseStopPolling(response.content)
        if standalone:
            stop["HX-Refresh"] = "true"  # the run page reloads once to show metrics, log and artifacts
        return stop
    return render(request, "workers/run.html", context)


@require_POST
@login_required
def run_cancel(request, pk):
    run = _owned_run(request, pk)
    run.request_cancel()
    if request.htmx:
        return render(request, "workers/run.html#run_card", run_card_context(run))
    return redirect(run)


@require_POST
@login_required
def run_rerun(request, pk):
    """A new run of the same runnable with this run's parameters."""
    new_run = _owned_run(request, pk).rerun()
    if request.htmx:
        return render(request, "workers/run.html#run_card", run_card_context(new_run))
    return redirect(new_run)


@login_required
def run_list(request):
    runs = Run.objects.for_user(request.user).select_related("runnable__note")[:100]
    return render(request, "workers/runs.html", {"runs": runs})
