from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from lablog.ids import parse_id
from notes.models import Note
from workers.forms import ParamsForm
from workers.jobs import get_kind, kinds
from workers.liveness import alive_workers, describe_worker, workers_for_kind
from workers.models import Run, Runnable
from workers.panel import panel_context, run_card_context


@login_required
def note_runnables(request, note_id):
    """The runnables panel of a note (the note page includes it; htmx swaps it after a change)."""
    note = get_object_or_404(Note.objects.for_user(request.user), pk=note_id)
    return render(request, "workers/_runnables_panel.html", panel_context(note))


def _known_kind(name):
    """A kind of the registry. Whether a worker can run it is the workers' say (their
    announcements), never this process's environment: a run of a kind no live worker can run
    waits, and the page says so."""
    kind = get_kind(name or "")
    if kind is None:
        raise Http404("no such job kind")
    return kind


def _kind_choices() -> list[tuple]:
    """Every kind with the live workers that can run it (described), those with one first."""
    workers = alive_workers()
    rows = [(kind, [describe_worker(w) for w in workers_for_kind(kind.name, workers)]) for kind in kinds().values()]
    return sorted(rows, key=lambda row: not row[1])


def _saved(request, note, run=None):
    """After a save: the refreshed panel when the form sits in the note page's panel; from the
    standalone form page (no panel to swap), the note itself, scrolled to the new run, which is live there."""
    url = note.get_absolute_url() + (f"#run-{run.pk}" if run else "#runnables")
    if request.htmx and request.POST.get("standalone") != "1":
        response = render(request, "workers/_runnables_panel.html", panel_context(note))
        return reswap(retarget(response, "#runnables"), "outerHTML")
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _on_note_page(request, note) -> bool:
    """Whether the form sits in the note page's runnables panel (an htmx request from that page)."""
    try:
        current = request.htmx.current_url_abs_path if request.htmx else None
    except ValueError:  # a header no browser sends ("http://["): not the note page
        return False
    return bool(current) and current.split("?")[0].split("#")[0] == note.get_absolute_url()


def _form_context(request, note, kind, form, runnable):
    # Anywhere but the note's panel (the runnable's own page, the add page), a save leaves for the note.
    if request.method == "POST":
        standalone = request.POST.get("standalone") == "1"
    else:
        standalone = not _on_note_page(request, note)
    return {"note": note, "kind": kind, "form": form, "runnable": runnable, "standalone": standalone}


@login_required
def runnable_add(request, note_id):
    """Pick a kind (GET without ?kind), then fill the form generated from its schema."""
    note = get_object_or_404(Note.objects.for_user(request.user), pk=note_id)
    kind_name = request.POST.get("kind") if request.method == "POST" else request.GET.get("kind")
    template_name = "workers/runnable_form.html"
    if not kind_name:
        context = {"note": note, "kinds": _kind_choices()}
        if request.htmx:
            template_name += "#kind_picker"
        return render(request, template_name, context)
    kind = _known_kind(kind_name)
    form = ParamsForm(kind, request.POST or None)
    if request.method == "POST" and form.is_valid():
        runnable = Runnable.objects.create(note=note, kind=kind.name, params=form.params)
        run = runnable.start_run() if "run" in request.POST else None
        return _saved(request, note, run)
    if request.htmx:
        template_name += "#runnable_form"
    return render(request, template_name, _form_context(request, note, kind, form, None))


@login_required
def runnable_edit(request, pk):
    """Edit a runnable's parameters (prefilled from one of its runs with ?from_run=ID) and run."""
    runnable = get_object_or_404(Runnable.objects.for_user(request.user).select_related("note"), pk=pk)
    kind = _known_kind(runnable.kind)
    params = runnable.params
    if request.GET.get("from_run", "").strip():
        run = get_object_or_404(Run.objects.for_user(request.user), runnable=runnable, pk=parse_id(request.GET["from_run"]))
        params = run.params
    form = ParamsForm(kind, request.POST or None, params=params)
    if request.method == "POST" and form.is_valid():
        runnable.update_params(form.params)
        run = runnable.start_run() if "run" in request.POST else None
        return _saved(request, runnable.note, run)
    template_name = "workers/runnable_form.html"
    if request.htmx:
        template_name += "#runnable_form"
    return render(request, template_name, _form_context(request, runnable.note, kind, form, runnable))


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
