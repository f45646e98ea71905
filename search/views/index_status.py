"""The index status page: totals, per-note state, re-indexing with progress, "don't index"."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from notes.models import EditConflict
from search import services
from search.views.editing import set_searchable
from search.views.note_panels import own_note


@login_required
def status(request):
    return render(request, "search/status.html", {
        "status": services.index_status(request.user),
        "progress": services.reindex_progress(request.user),
    })


@login_required
@require_POST
def reindex(request):
    services.request_reindex(request.user)
    progress = services.reindex_progress(request.user)
    not_queued = progress["state"] == "idle"  # the broker did not take the task
    if request.htmx:
        return render(request, "search/status.html#progress", {"progress": progress, "not_queued": not_queued})
    if not_queued:
        messages.error(request, "The re-index could not be queued: Redis is unreachable. Try again once it is back.")
    return redirect("search:status")


@login_required
def reindex_progress(request):
    """The progress bar, polled while a re-index runs; 286 stops the polling when it is over."""
    context = {"progress": services.reindex_progress(request.user)}
    if context["progress"]["state"] == "running":
        return render(request, "search/status.html#progress", context)
    return HttpResponseStopPolling(render_to_string("search/status.html#progress", context, request))


@login_required
@require_POST
def note_searchable(request, pk):
    """Mark a note "don't index" (kept out of semantic search and related notes), or index it again."""
    note = own_note(request, pk)
    try:
        set_searchable(note, request.POST.get("searchable") == "1")
    except EditConflict:
        messages.error(request, f"“{note.title}” kept changing while saving; try again.")
    return redirect("search:status")
