from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from notes.forms import EditNoteForm, NewNoteForm, NoteForm, SnippetForm
from notes.models import EditConflict, Note, Paper
from notes.rendering import extract_wikilinks, mark_missing_wikilinks, render_markdown
from notes.views.common import partial_or_page


def own_note(request, pk) -> Note:
    return get_object_or_404(Note.objects.for_user(request.user), pk=pk)


@login_required
def note_detail(request, pk):
    note = get_object_or_404(
        Note.objects.for_user(request.user).select_related("paper").prefetch_related("tags", "snippets"), pk=pk
    )
    context = {
        "note": note,
        "body_html": note.linked_html(),
        "backlinks": note.backlinks().order_by("-updated"),
        "revision_count": note.revisions.count(),
        "snippet_form": SnippetForm(),
    }
    return render(request, "notes/note.html", context)


@login_required
def note_new(request):
    """New note; `?title=` (from a missing wiki-link) and `?paper=` prefill it."""
    if request.method == "POST":
        form = NewNoteForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            note = Note.objects.create_note(
                request.user, title=data["title"], body=data["body"], tags=data["tags"], paper=data["paper"],
                client_id=data["client_id"],
            )
            return redirect(note)
    else:
        paper = Paper.objects.for_user(request.user).filter(pk=request.GET.get("paper") or None).first()
        form = NewNoteForm(user=request.user, initial={"title": request.GET.get("title", ""), "paper": paper and paper.pk})
    return render(request, "notes/edit.html", {"form": form, "note": None})


@login_required
def note_edit(request, pk):
    """The editor. An htmx POST (autosave, Ctrl+S, the Save button) answers with the save
    state; a save based on an old version answers 409 with both texts."""
    note = own_note(request, pk)
    if request.method != "POST":
        form = EditNoteForm(user=request.user, initial={**NoteForm.initial_for(note), "base_version": note.version})
        return render(request, "notes/edit.html", {"form": form, "note": note})

    form = EditNoteForm(request.POST, user=request.user)
    status = 200
    context = {"form": form, "note": note}
    if form.is_valid():
        data = form.cleaned_data
        try:
            note = note.apply_edit(
                base_version=data["base_version"], title=data["title"], body=data["body"], tags=data["tags"],
                paper=data["paper"],
            )
            context.update(note=note, saved=True)
            if not request.htmx:
                return redirect(note)
        except EditConflict as conflict:
            status = 409
            context.update(conflict=conflict.current, yours=data)
    else:
        status = 422
    return render(request, partial_or_page(request, "notes/edit.html", "save-state"), context, status=status)


@login_required
@require_POST
def note_preview(request):
    """The editor's live preview of the body as it would render."""
    body = request.POST.get("body", "")
    html = mark_missing_wikilinks(
        render_markdown(body), Note.objects.for_user(request.user).existing_keys(extract_wikilinks(body))
    )
    return render(request, "notes/_preview.html", {"preview_html": html})


@login_required
def note_delete(request, pk):
    note = own_note(request, pk)
    if request.method == "POST":
        title = note.title
        note.delete()
        messages.success(request, f"Deleted “{title}”.")
        return redirect("notes:log")
    return render(request, "notes/delete.html", {"note": note})


@login_required
def wiki(request):
    """Where a [[wiki-link]] goes: the user's note with that title, else a new note with it."""
    title = " ".join(request.GET.get("title", "").split())
    note = Note.objects.for_user(request.user).with_title(title).order_by("created").first() if title else None
    if note:
        return redirect(note)
    return redirect(f"{reverse('notes:new')}?{urlencode({'title': title})}")
