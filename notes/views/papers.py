from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, F
from django.shortcuts import get_object_or_404, redirect, render

from lablog.ids import parse_id
from notes.forms import PaperForm
from notes.models import EditConflict, Paper
from notes.views.conflicts import conflict_context

SORTS = {
    "title": [F("title").asc()],
    "-title": [F("title").desc()],
    "year": [F("year").asc(nulls_last=True), F("title").asc()],
    "-year": [F("year").desc(nulls_last=True), F("title").asc()],
    "published": [F("published").asc(nulls_last=True), F("year").asc(nulls_last=True), F("title").asc()],
    "-published": [F("published").desc(nulls_last=True), F("year").desc(nulls_last=True), F("title").asc()],
}


def own_paper(request, pk) -> Paper:
    return get_object_or_404(Paper.objects.for_user(request.user), pk=pk)


@login_required
def paper_list(request):
    sort = request.GET.get("sort") if request.GET.get("sort") in SORTS else "-year"
    papers = Paper.objects.for_user(request.user).annotate(note_count=Count("notes")).order_by(*SORTS[sort])
    return render(request, "notes/papers.html", {"papers": papers, "sort": sort})


@login_required
def paper_detail(request, pk):
    paper = own_paper(request, pk)
    notes = paper.notes.filter(user=request.user).prefetch_related("tags")
    return render(request, "notes/paper.html", {"paper": paper, "notes": notes})


@login_required
def paper_form(request, pk=None):
    """New paper (no pk) or edit one. An edit made on a version saved over since (another tab,
    the API) is refused with 409 and both versions side by side."""
    paper = own_paper(request, pk) if pk else None
    form = PaperForm(request.POST or None, instance=paper, user=request.user)
    context = {"form": form, "paper": paper}
    if request.method == "POST" and form.is_valid():
        if paper is None:
            return redirect(form.save())
        try:
            paper = own_paper(request, pk).apply_edit(
                base_version=form.cleaned_data["base_version"], **form.edited_fields()
            )
            return redirect(paper)
        except EditConflict as conflict:
            context |= conflict_context(form, conflict.current, kind="paper", take_theirs_url=request.path)
            return render(request, "notes/paper_form.html", context, status=409)
    return render(request, "notes/paper_form.html", context)


@login_required
def paper_arxiv_field(request):
    """The arXiv field again as the user pastes into it: the normalised id, or why not, or the
    paper that already has it (the same checks the form makes on save)."""
    paper = Paper.objects.for_user(request.user).filter(pk=parse_id(request.GET.get("paper"))).first()
    form = PaperForm({"arxiv_id": request.GET.get("arxiv_id", "")}, instance=paper, user=request.user)
    form.is_valid()
    field = form["arxiv_id"]
    if "arxiv_id" in form.cleaned_data:
        form.data = {"arxiv_id": form.cleaned_data["arxiv_id"]}
    return render(request, "notes/_arxiv_field.html", {"field": field, "paper": paper})


@login_required
def paper_delete(request, pk):
    paper = own_paper(request, pk)
    if request.method == "POST":
        title = paper.title
        paper.delete()
        messages.success(request, f"Deleted the paper “{title}”; its notes are kept.")
        return redirect("notes:papers")
    return render(request, "notes/paper_delete.html", {"paper": paper, "note_count": paper.notes.count()})
