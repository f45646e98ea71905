import difflib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from notes.models import EditConflict, Revision
from notes.views.notes import own_note


def own_revision(request, pk, version) -> Revision:
    return get_object_or_404(
        Revision.objects.select_related("note").filter(note__user=request.user), note_id=pk, version=version
    )


def diff_lines(old: str, new: str) -> list[tuple[str, str]]:
    """(kind, line) pairs of a unified diff from `old` to `new`; kind is add, del, hunk or same."""
    rows = []
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=3)
    for line in list(diff)[2:]:  # skip the ---/+++ file headers
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        rows.append((kind, line[1:] if kind != "hunk" else line))
    return rows


@login_required
def revision_list(request, pk):
    note = own_note(request, pk)
    return render(request, "notes/revisions.html", {"note": note, "revisions": note.revisions.all()})


@login_required
def revision_detail(request, pk, version):
    """One old version, shown as what changed from it to the current text."""
    revision = own_revision(request, pk, version)
    note = revision.note
    context = {
        "note": note,
        "revision": revision,
        "title_changed": revision.title != note.title,
        "diff": diff_lines(revision.body, note.body),
    }
    return render(request, "notes/revision.html", context)


@login_required
@require_POST
def revision_restore(request, pk, version):
    revision = own_revision(request, pk, version)
    try:
        base_version = int(request.POST.get("base_version", ""))
    except ValueError:
        base_version = 0
    try:
        note = revision.note.restore(revision, base_version=base_version)
    except EditConflict:
        messages.error(
            request, "The note changed since you opened this page; here is the difference to the newest text. Restore again if you still want it."
        )
        return redirect("notes:revision", pk=pk, version=version)
    messages.success(request, f"Restored version {revision.version}; the text it replaced is kept as a revision.")
    return redirect(note)
