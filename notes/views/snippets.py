from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from lablog.ids import parse_id
from notes.forms import SnippetForm
from notes.models import EditConflict, Snippet
from notes.views.conflicts import conflict_context
from notes.views.notes import own_note


def own_snippet(request, pk) -> Snippet:
    return get_object_or_404(Snippet.for_user(request.user).select_related("note"), pk=pk)


def render_section(request, note, form=None, status=200):
    """The note's snippet list with its add form (what the add and move endpoints answer)."""
    context = {"note": note, "snippet_form": form or SnippetForm()}
    return render(request, "notes/_snippets.html", context, status=status)


@login_required
@require_POST
def snippet_add(request, pk):
    note = own_note(request, pk)
    form = SnippetForm(request.POST)
    if form.is_valid():
        form.instance.note = note
        form.save()
        if not request.htmx:
            return redirect(note)
        return render_section(request, note)
    if not request.htmx:
        return redirect(note)
    return render_section(request, note, form, status=422)


@login_required
def snippet_detail(request, pk):
    return render(request, "notes/_snippet.html", {"snippet": own_snippet(request, pk)})


@login_required
def snippet_edit(request, pk):
    """Edit in place: GET gives the form that replaces the snippet, POST gives the snippet back,
    or the form again with both versions (409) when it was saved elsewhere since."""
    snippet = own_snippet(request, pk)
    form = SnippetForm(request.POST or None, instance=snippet, prefix=f"s{snippet.pk}")
    context = {"snippet": snippet, "form": form}
    if request.method == "POST" and form.is_valid():
        try:
            snippet = own_snippet(request, pk).apply_edit(
                base_version=form.cleaned_data["base_version"], **form.edited_fields()
            )
        except EditConflict as conflict:
            context |= conflict_context(form, conflict.current, kind="snippet", take_theirs_url=request.path)
            return render(request, "notes/_snippet_form.html", context, status=409)
        if not request.htmx:
            return redirect(snippet.note)
        return render(request, "notes/_snippet.html", {"snippet": snippet})
    status = 422 if request.method == "POST" else 200
    return render(request, "notes/_snippet_form.html", context, status=status)


@login_required
@require_POST
def snippet_delete(request, pk):
    snippet = own_snippet(request, pk)
    note = snippet.note
    snippet.delete()
    if not request.htmx:
        return redirect(note)
    return HttpResponse("")


@login_required
@require_POST
def snippet_reorder(request, pk):
    """The order after a drag and drop: `order` is the note's snippet ids, comma-separated."""
    note = own_note(request, pk)
    ids = [snippet_id for snippet_id in map(parse_id, request.POST.get("order", "").split(",")) if snippet_id is not None]
    Snippet.reorder(note, ids)
    return render_section(request, note)


@login_required
@require_POST
def snippet_move(request, pk, direction):
    snippet = own_snippet(request, pk)
    if direction not in ("up", "down"):
        raise Http404
    snippet.move(-1 if direction == "up" else 1)
    if not request.htmx:
        return redirect(snippet.note)
    return render_section(request, snippet.note)
