from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import render

from notes.forms import LogFilterForm
from notes.models import Note, Tag
from notes.views.common import partial_or_page


@login_required
def log(request):
    """The research diary: the user's notes, newest first, filtered and paginated."""
    form = LogFilterForm(request.GET or None, user=request.user)
    notes = form.filter(Note.objects.for_user(request.user)).select_related("paper").prefetch_related("tags")
    page = Paginator(notes.distinct(), settings.NOTES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    tag_cloud = Tag.objects.for_user(request.user).annotate(count=Count("notes")).filter(count__gt=0)
    context = {
        "form": form, "page": page, "query": query.urlencode(), "tag_cloud": tag_cloud,
        "active_tag": (request.GET.get("tag") or "").lower(),
    }
    return render(request, partial_or_page(request, "notes/log.html", "results"), context)
