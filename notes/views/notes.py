from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect, replace_url

from lablog.ids import parse_id
from notes.attachments import show_in_html
from notes.forms import EditNoteForm, NewNoteForm, NoteForm, SnippetForm
from notes.models import EditConflict, Note, Paper, note_files
from notes.rendering import extract_wikilinks, mark_missing_wikilinks, render_markdown, toggle_task
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
        "files": note_files(note),
    }
    return render(request, "notes/note.html", context)


@login_required
def note_new(request):
    """New note; `?title=` (from a missing wiki-link) and `?paper=` prefill it.

    The form's client_id names the note it creates, so the first autosave, a racing Save and
    a double click make one note: a POST whose client_id already has a note edits that note.
    An autosave answers with the save state and turns the page into that note's editor;
    Save (or a plain form post) goes to the note."""
    if request.method != "POST":
        paper = Paper.objects.for_user(request.user).filter(pk=parse_id(request.GET.get("paper"))).first()
        form = NewNoteForm(user=request.user, initial={"title": request.GET.get("title", ""), "paper": paper and paper.pk})
        return render(request, "notes/edit.html", {"form": form, "note": None})

    form = NewNoteForm(request.POST, user=request.user)
    autosave = bool(request.htmx) and request.POST.get("autosave") == "1"
    status = 200
    context = {"form": form, "note": None}
    if form.is_valid():
        data = form.cleaned_data
        fields = {"title": data["title"], "body": data["body"], "tags": data["tags"], "paper": data["paper"]}
        try:
            # create_note gives back the note this client_id made already (by an earlier request
            # from this page, or one racing this); this text then goes on top of it, based on
            # version 1 until the page has heard of the note. On a fresh note it changes nothing.
            note = Note.objects.create_note(request.user, client_id=data["client_id"], **fields)
            note = note.apply_edit(base_version=data["base_version"] or 1, **fields)
        except EditConflict as conflict:
            status = 409
            context.update(note=conflict.current, conflict=conflict.current, yours=data)
        else:
            if not request.htmx:
                return redirect(note)
            if not autosave:
                return HttpResponseClientRedirect(note.get_absolute_url())
            context.update(note=note, saved=True, created=True)
    else:
        status = 422
    response = render(request, partial_or_page(request, "notes/edit.html", "save-state"), context, status=status)
    if context["note"] and request.htmx:
        replace_url(response, reverse("notes:edit", args=[context["note"].pk]))
    return response


@login_required
def note_edit(request, pk):
    """The editor. An htmx POST (autosave, Ctrl+S, the Save button) answers with the save
    state, or goes to the note when it was a new note's "Create note" (`go_to_note`); a save
    based on an old version answers 409 with both texts."""
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
            if request.POST.get("go_to_note") == "1":  # "Create note", queued behind the first autosave
                return HttpResponseClientRedirect(note.get_absolute_url())
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
    notes = Note.objects.for_user(request.user)
    html = mark_missing_wikilinks(render_markdown(body), notes.existing_keys(extract_wikilinks(body)))
    if note := notes.filter(pk=parse_id(request.POST.get("note"))).first():  # editing it: its files show
        html = show_in_html(html, note)
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


@login_required
@require_POST
def note_task(request, pk):
    """Tick or clear a task-list checkbox on the note page: the note saved as a new version
    (a revision kept), refused with 409 when the page showed an older version than the stored one."""
    note = own_note(request, pk)
    try:
        index, base_version = int(request.POST["index"]), int(request.POST["base_version"])
    except (KeyError, ValueError):
        return JsonResponse({"message": "Which task, on which version of the note?"}, status=400)
    checked = request.POST.get("checked") == "true"
    if base_version != note.version:
        return JsonResponse({"message": STALE_TASK, "version": note.version}, status=409)
    body = toggle_task(note.body, index, checked)
    if body is None:
        return JsonResponse({"message": STALE_TASK, "version": note.version}, status=409)
    try:
        note = note.apply_edit(base_version=base_version, title=note.title, body=body)
    except EditConflict as conflict:
        return JsonResponse({"message": STALE_TASK, "version": conflict.current.version}, status=409)
    return JsonResponse({"version": note.version})


STALE_TASK = "Not saved: this note was changed elsewhere since this page was loaded. Reload the page, then tick it again."
