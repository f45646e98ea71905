"""The results page and the live dropdown under the search box: one view, page or fragment."""

from math import ceil

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from search import services
from search.views.search_form import KINDS, SearchForm

RESULTS_PER_PAGE = 10
# The dropdown under the header's box shows the first few hits and links to the full page.
DROPDOWN_HITS = 6


@login_required
def results(request):
    data = request.GET.copy()
    data.setdefault("mode", "hybrid")
    if not data.getlist("kind"):
        data.setlist("kind", [k for k, _ in KINDS])
    form = SearchForm(request.user, data)
    args = form.search_args()
    page_number = args.pop("page")
    in_dropdown = bool(request.htmx) and request.htmx.target == "search-dropdown"
    per_page = DROPDOWN_HITS if in_dropdown else RESULTS_PER_PAGE
    found = None
    if args["query"].strip():
        found = services.search(request.user, **args, limit=per_page, offset=(page_number - 1) * per_page)
    page_count = ceil(found.total / per_page) if found else 0
    template_name = "search/results.html"
    if request.htmx:
        template_name += "#results"
    return render(request, template_name, {
        "form": form,
        "in_dropdown": in_dropdown,
        "query": args["query"],
        "found": found,
        "page_number": page_number,
        "page_count": page_count,
        "previous_page": page_number - 1 if page_number > 1 else None,
        "next_page": page_number + 1 if page_number < page_count else None,
    })
