from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render

from notes.models import Note, Paper


@login_required
def log(request):
    return render(request, "notes/log.html", {"notes": Note.objects.for_user(request.user)[:20]})


@login_required
def note_detail(request, pk):
    note = get_object_or_404(Note.objects.for_user(request.user), pk=pk)
    return render(request, "notes/note.html", {"note": note})


@login_required
def paper_detail(request, pk):
    paper = get_object_or_404(Paper.objects.for_user(request.user), pk=pk)
    return render(request, "notes/paper.html", {"paper": paper})
