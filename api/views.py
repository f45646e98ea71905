from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from api.forms import TokenForm
from api.models import ApiToken


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request):
    form = TokenForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        _, secret = ApiToken.issue(request.user, form.cleaned_data["name"], form.cleaned_data["days"] or None)
        form = TokenForm()
    return render(request, "api/tokens.html", {
        "form": form, "secret": secret, "tokens": ApiToken.objects.for_user(request.user),
    })


@login_required
@require_POST
def revoke(request, pk):
    get_object_or_404(ApiToken.objects.for_user(request.user), pk=pk).revoke()
    return redirect("api:tokens")
