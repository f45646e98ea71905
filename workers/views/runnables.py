from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_htmx.http import reswap, retarget

from notes.models import Note
from workers.forms import ParamsForm
from workers.jobs import get_kind, kinds
from workers.models import Run, Runnable
from workers.panel import panel_context, run_card_context


@login_required
def note_runnables(request, note_id):
    """The runnables panel of a note (the note page includes it; htmx swaps it after a change)."""
    note = get_object_or_404(Note.objects.for_user(request.user), pk=note_id)
    return render(request, "workers/_runnables_panel.html", panel_context(note))


def _available_kind(name):
    kind = get_kind(name or "")
    if kind is None:
        raise Http404("no such job kind")
    if not kind.available()[0]:
        raise Http404("this job kind is unavailable")
    return kind


def _saved(request, note):
    """After a save: the refreshed panel for htmx, else back to the note."""
    if request.htmx:
        response = render(request, "workers/_runnables_panel.html", panel_context(note))
        return reswap(retarget(response, "#runnables"), "outerHTML")
    return redirect(note.get_absolute_url() + "#runnables")


@login_required
def runnable_add(request, note_id):
    """Pick a kind (GET without ?kind), then fill the form generated from its schema."""
    note = get_object_or_404(Note.objects.for_user(request.user), pk=note_id)
    kind_name = request.POST.get("kind") if request.method == "POST" else request.GET.get("kind")
    template_name = "workers/runnable_form.html"
    if not kind_name:
        context = {"note": note, "kinds": [(k, *k.available()) for k in kinds().values()]}
        if request.htmx:
            template_name += "#kind_picker"
        return render(request, template_name, context)
    kind = _available_kind(kind_name)
    form = ParamsForm(kind, request.POST or None)
    if request.method == "POST" and form.is_valid():
        runnable = Runnable.objects.create(note=note, kind=kind.name, params=form.params)
        if "run" in request.POST:
            runnable.start_run()
        return _saved(request, note)
    if request.htmx:
        template_name += "#runnable_form"
    return render(request, template_name, {"note": note, "kind": kind, "form": form, "runnable": None})


@login_required
def runnable_edit(request, pk):
    """Edit a runnable's parameters (prefilled from one of its runs with ?from_run=ID) and run."""
    runnable = get_object_or_404(Runnable.objects.for_user(request.user).select_related("note"), pk=pk)
    kind = _available_kind(runnable.kind)
    params = runnable.params
    if request.GET.get("from_run", "").isdigit():
        run = get_object_or_404(Run.objects.for_user(request.user), runnable=runnable, pk=request.GET["from_run"])
        params = run.params
    form = ParamsForm(kind, request.POST or None, params=params)
    if request.method == "POST" and form.is_valid():
        runnable.update_params(form.params)
        if "run" in request.POST:
            runnable.start_run()
        return _saved(request, runnable.note)
    template_name = "workers/runnable_form.html"
    if request.htmx:
        template_name += "#runnable_form"
    return render(request, template_name, {"note": runnable.note, "kind": kind, "form": form, "runnable": runnable})


@require_POST
@login_required
def runnable_run(request, pk):
    runnable = get_object_or_404(Runnable.objects.for_user(request.user), pk=pk)
    run = runnable.start_run()
    if request.htmx:
        return render(request, "workers/run.html#run_card", run_card_context(run))
    return redirect(run)


@require_POST
@login_required
def runnable_delete(request, pk):
    runnable = get_object_or_404(Runnable.objects.for_user(request.user).select_related("note"), pk=pk)
    note = runnable.note
    runnable.delete()
    return _saved(request, note)
