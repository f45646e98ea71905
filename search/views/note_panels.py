"""What the search app shows on a note page: the indexing badge, related notes, scroll-to passages."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRefresh, HttpResponseStopPolling

from notes.models import EditConflict, Note
from search import services
from search.models import Passage
from search.views.editing import UNLINKABLE, add_related_link

# Characters of the body returned from an offset that starts no known passage.
PASSAGE_PREVIEW_CHARS = 300


def own_note(request, pk) -> Note:
    return get_object_or_404(Note.objects.for_user(request.user), pk=pk)


@login_required
def index_badge(request, pk):
    """The badge, polled every 2 s while the note is pending; 286 stops the polling once it is not."""
    note = own_note(request, pk)
    state = services.note_index_state(note)
    context = {"note": note, "state": state}
    if state == "pending":
        return render(request, "search/_index_badge.html", context)
    return HttpResponseStopPolling(render_to_string("search/_index_badge.html", context, request))


def _related_panel(request, note, error=""):
    return render(request, "search/_note_related.html#related_list", {
        "note": note,
        "related": services.related_notes(request.user, note),
        "error": error,
    })


@login_required
def related(request, pk):
    return _related_panel(request, own_note(request, pk))


@login_required
@require_POST
def link_related(request, pk, other_pk):
    """Turn a suggestion into a real [[wiki-link]] in the note, then show the note with it."""
    note, target = own_note(request, pk), own_note(request, other_pk)
    if UNLINKABLE.search(target.title):
        return _related_panel(request, note, f"“{target.title}” has [, ] or | in its title, which a wiki-link cannot hold.")
    try:
        add_related_link(note, target)
    except EditConflict:
        return _related_panel(request, note, "The note kept changing while linking; try again.")
    messages.success(request, f"Linked [[{target.title}]].")
    # The page reloads so the note shows its new link (and the suggestion is gone from the list).
    if request.htmx:
        return HttpResponseClientRefresh()
    return redirect(note)


@login_required
@require_POST
def dismiss_related(request, pk, other_pk):
    note, other = own_note(request, pk), own_note(request, other_pk)
    services.dismiss_related(request.user, note, other.pk)
    if request.htmx:
        return _related_panel(request, note)
    return redirect(note)


@login_required
def passage(request, pk):
    """The body text of the passage starting at `start`, for the note page to find, highlight and
    scroll to it (`#p-<start>` in a hit's URL): the page shows rendered markdown, not offsets."""
    note = own_note(request, pk)
    try:
        start = max(0, int(request.GET.get("start", "")))
    except ValueError:
        start = 0
    end = Passage.objects.filter(note_id=note.pk, kind=Passage.NOTE, start=start).values_list("end", flat=True).first()
    return JsonResponse({"text": note.body[start:end if end and end > start else start + PASSAGE_PREVIEW_CHARS]})
