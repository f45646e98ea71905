from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseStopPolling

from exchange import services
from exchange.forms import ImportForm
from exchange.models import ImportJob
from exchange.uploads import declared_length


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request):
    if declared_length(request) > settings.EXCHANGE_UPLOAD_MAX_BYTES + 64 * 1024:
        # Refused before Django reads (and spools to disk) an upload that is over the cap anyway.
        return HttpResponse(
            f"Uploads are limited to {settings.EXCHANGE_UPLOAD_MAX_BYTES:,} bytes.", status=413, content_type="text/plain"
        )
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        name, data = form.upload()
        job = services.start_import(request.user, name, data, form.cleaned_data["format"])
        return redirect(job)
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
