from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from exchange import services
from exchange.forms import ImportForm
from exchange.models import ImportJob
from exchange.uploads import declared_length, rest_of_oversized_form


# The form is read here, before the CSRF check would read it (and fail with a bare 400 on a
# paste over DATA_UPLOAD_MAX_MEMORY_SIZE); `_import_form` is CSRF-protected as usual.
@csrf_exempt
@login_required
@require_http_methods(["GET", "POST"])
def import_page(request):
    if declared_length(request) > settings.EXCHANGE_UPLOAD_MAX_BYTES + 64 * 1024:
        # Refused before Django reads (and spools to disk) an upload that is over the cap anyway.
        return HttpResponse(
            f"Uploads are limited to {settings.EXCHANGE_UPLOAD_MAX_BYTES:,} bytes.", status=413, content_type="text/plain"
        )
    try:
        request.POST
    except RequestDataTooBig:
        # Nothing is imported, so this answer needs no CSRF check: the page again, saying why.
        text_size, other_fields = rest_of_oversized_form(request)
        return _page(request, ImportForm(other_fields, oversized_text=text_size))
    return _import_form(request)


@csrf_protect
def _import_form(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        name, data = form.upload()
        job = services.start_import(request.user, name, data, form.cleaned_data["format"])
        return redirect(job)
    return _page(request, form)


def _page(request, form):
    jobs = ImportJob.objects.for_user(request.user).defer("payload")[:10]
    return render(request, "exchange/import.html", {"form": form, "jobs": jobs}, status=400 if form.errors else 200)


@login_required
def import_job(request, pk):
    job = get_object_or_404(ImportJob.objects.for_user(request.user).defer("payload"), pk=pk)
    template_name = "exchange/import_job.html"
    if request.htmx:
        template_name += "#progress"
    response = render(request, template_name, {"job": job})
    if request.htmx and job.is_finished:
        # 286 stops htmx polling; the body still replaces the progress bar with the report.
        response.status_code = HttpResponseStopPolling.status_code
    return response


@login_required
@require_POST
def choose_title(request, pk, notice):
    """One click in the report: a notice's note takes one of the titles offered for it."""
    job = get_object_or_404(ImportJob.objects.for_user(request.user).defer("payload"), pk=pk)
    try:
        choice = int(request.POST.get("choice", ""))
        services.choose_title(job, notice, choice)
    except (ValueError, services.NoSuchChoice):
        raise Http404("No such title to choose")
    if request.htmx:
        return render(request, "exchange/_import_notice.html", {"job": job, "n": job.report["notices"][notice], "index": notice})
    return redirect(job)
