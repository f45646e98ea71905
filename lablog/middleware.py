"""Policies for every page: NUL characters kept out of addresses, the
Content-Security-Policy, and our own 404 page even with DEBUG on (Django's debug 404 lists
every URL pattern, which is no page for a user who followed a link to a deleted note)."""

from django.conf import settings
from django.http import Http404, HttpResponseBadRequest, QueryDict
from django.shortcuts import render

# Scripts only from our own origin: no inline script, no event-handler attributes, no eval
# (htmx's hx-on is off: htmx.config.allowEval is false in base.html). Styles may be inline
# because KaTeX positions glyphs with style attributes and the tag cloud sizes tags with one.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


class NulInAddressMiddleware:
    """PostgreSQL cannot compare text that holds a NUL character (%00), so a view looking up
    what the address says (a wiki-link's title, a tag, an artifact's name) failed with a
    server error. No title, tag or search holds one: in a query string it reads as a space
    (as the search box always read it); a path with one names nothing and is refused.
    Posted forms refuse it field by field already."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path:
            return HttpResponseBadRequest(
                "This address contains a NUL character (%00): no page of Lablog has one.",
                content_type="text/plain; charset=utf-8",
            )
        query = request.META.get("QUERY_STRING", "")
        if "%00" in query:
            request.META["QUERY_STRING"] = query.replace("%00", "%20")
            request.GET = QueryDict(request.META["QUERY_STRING"], encoding=request.encoding)
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Adds the policy to every HTML response that does not bring its own (run artifacts do)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.DEBUG and response.status_code >= 500:
            return response  # Django's debug page for a developer runs inline script
        if "Content-Security-Policy" not in response and response.get("Content-Type", "").startswith("text/html"):
            response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response


class NotFoundPageMiddleware:
    """With DEBUG on, a missing object (Http404 from a view) still gets the app's 404 page.
    With DEBUG off Django renders templates/404.html itself (handler404)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if settings.DEBUG and isinstance(exception, Http404):
            return render(request, "404.html", status=404)
        return None
