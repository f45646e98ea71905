from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, F, Max, Q
from django.http import QueryDict
from django.shortcuts import render

from notes.forms import LogFilterForm
from notes.models import Note, Paper, Tag
from notes.rendering import plain_excerpt, render_markdown, renderer_id
from notes.views.common import partial_or_page

RECENT_PAPERS = 8  # in the log's sidebar
EXCERPT_SOURCE = 3000  # characters of a note rendered for its excerpt when its cached HTML is stale


def excerpt(note) -> str:
    """The start of a note as plain text: from its cached HTML, else from rendering its start
    (no query: the log page never writes caches for twenty notes at once)."""
    if (note.rendered_version, note.rendered_with) == (note.version, renderer_id()) and note.rendered_html:
        return plain_excerpt(note.rendered_html)
    return plain_excerpt(render_markdown(note.body[:EXCERPT_SOURCE]))


@login_required
def log(request):
    """The research diary: the user's notes, newest first, filtered and paginated.

    An htmx request (a filter change, a tag click, a page link) gets the results plus the tag
    cloud and the tag filter out of band, so the whole page follows the filters."""
    form = LogFilterForm(request.GET or None, user=request.user)
    mine = Note.objects.for_user(request.user)
    notes = form.filter(mine).select_related("paper").prefetch_related("tags")
    page = Paginator(notes.distinct(), settings.NOTES_PER_PAGE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    for note in page.object_list:
        note.excerpt = excerpt(note)
    active_tag = (request.GET.get("tag") or "").strip().lower()
    # The filters in use, for page and tag links (empty fields left out of the URL).
    query = QueryDict(mutable=True)
    for key, value in request.GET.items():
        if value and key != "page":
            query[key] = value
    without_tag = query.copy()
    without_tag.pop("tag", None)
    # The cloud counts the notes the other filters (text, paper, dates) leave; the active tag always shows.
    others = form.filter(mine, by_tag=False)
    tag_cloud = (
        Tag.objects.for_user(request.user)
        .annotate(count=Count("notes", filter=Q(notes__in=others.values("pk"))))
        .filter(Q(count__gt=0) | Q(name=active_tag))
    )
    template_name = partial_or_page(request, "notes/log.html", "results")
    context = {
        "form": form, "page": page, "query": query.urlencode(), "tag_query": without_tag.urlencode(),
        "tag_cloud": tag_cloud, "active_tag": active_tag,
        "all_tags": Tag.objects.for_user(request.user).filter(notes__isnull=False).distinct(),
        "fragment": template_name != "notes/log.html",
    }
    if not context["fragment"]:
        # The sidebar: the papers most recently written about (or added), and how many there are.
        papers = Paper.objects.for_user(request.user)
        context["paper_count"] = papers.count()
        context["recent_papers"] = papers.annotate(last_note=Max("notes__created")).order_by(
            F("last_note").desc(nulls_last=True), "-pk"
        )[:RECENT_PAPERS]
    return render(request, template_name, context)


PAPER_SUGGESTIONS = 20


@login_required
def paper_suggest(request):
    """The type-ahead of a Paper filter: up to 20 of the user's papers whose title contains
    what was typed, as <option>s for a <datalist> (no 200-item list in every page)."""
    # A paper title is at most 500 characters: longer text matches none (and SQLite refuses
    # a LIKE pattern over 50,000 bytes).
    typed = " ".join((request.GET.get("paper") or request.GET.get("q") or "").split())[:500]
    papers = Paper.objects.for_user(request.user).order_by("title")
    if typed and not typed.isdigit():
        papers = papers.filter(title__icontains=typed)
    titles = papers.values_list("title", flat=True)[:PAPER_SUGGESTIONS]
    return render(request, "notes/_paper_options.html", {"titles": titles})
