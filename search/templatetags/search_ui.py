"""Template helpers of the search UI: highlighted passages, tag links and a note's index state."""

import re
from functools import lru_cache
from html import escape  # Django's escape() is this, behind a lazy-string wrapper that costs per call
from urllib.parse import quote

from django import template
from django.urls import reverse
from django.utils.safestring import mark_safe

register = template.Library()

# Words too common to be worth marking in a passage.
STOPWORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was were with near not".split()
)
# A 5,000-character query must not become a 5,000-branch regular expression.
MAX_TERMS = 24


def query_terms(query: str) -> list[str]:
    """The words of a query worth marking: no operators or stop words, no repeats, longest first."""
    terms = []
    for word in re.findall(r"\w+", query or ""):
        word = word.casefold()
        if (len(word) > 1 or not word.isascii()) and word not in STOPWORDS and word not in terms:
            terms.append(word)
    return sorted(terms[:MAX_TERMS], key=len, reverse=True)


def _stem(term: str) -> str:
    # "embeddings" should mark "embedding" too: match the word's start, without a plural ending.
    return term[:-1] if len(term) > 3 and term.endswith("s") else term


# A results page marks the same query in every hit (and the next pages ask it again).
@lru_cache(maxsize=64)
def _marking_pattern(query: str) -> re.Pattern | None:
    terms = query_terms(query)
    if not terms:
        return None
    return re.compile(r"(?<!\w)(?:%s)\w*" % "|".join(re.escape(_stem(t)) for t in terms), re.IGNORECASE)


# The filters below write the HTML of what a results page shows for every hit: written with
# template tags and Django's filters, the dates, tags and marked passages of ten hits made a
# page's render 1.8 ms slower (bench/render_ab.py --baseline bebaa1c: 9.48 -> 7.83 ms).
@register.filter(needs_autoescape=False)
def highlight_terms(text, query):
    """Escape `text` and wrap every word that starts like a query word in <mark>."""
    text = str(text or "")
    pattern = _marking_pattern(str(query or ""))
    if pattern is None:
        return mark_safe(escape(text))
    out, last = [], 0
    for match in pattern.finditer(text):
        out.append(escape(text[last:match.start()]))
        out.append(f"<mark>{escape(match.group())}</mark>")
        last = match.end()
    out.append(escape(text[last:]))
    return mark_safe("".join(out))


@register.filter(expects_localtime=True)
def day_time(when):
    """`<time datetime="(ISO 8601)">YYYY-MM-DD</time>` in the site's time zone, as
    `date:'c'` and `date:"Y-m-d"` wrote it."""
    return mark_safe(f'<time datetime="{when.isoformat()}">{when.year:04d}-{when.month:02d}-{when.day:02d}</time>')


@register.filter
def tag_links(tags, prefix: str):
    """A link per tag, `prefix` (tag_link_prefix's) followed by the tag, each followed by a space."""
    prefix = escape(prefix)
    return mark_safe("".join(f'<a class="tag" href="{prefix}{quote(tag, safe="")}">#{escape(tag)}</a> ' for tag in tags))


@register.simple_tag(takes_context=True)
def tag_link_prefix(context) -> str:
    """The results URL with this page's query and filters, a tag's own value to append: each
    tag link of a page ends it with its tag (a {% querystring %} per tag link made the hits
    fragment 1.9 ms against 1.6)."""
    params = context.request.GET.copy()
    for key in ("tag", "page"):
        params.pop(key, None)
    return reverse("search:results") + "?" + (params.urlencode() + "&" if params else "") + "tag="


@register.simple_tag
def note_index_state(note) -> str:
    """"indexed", "pending", "failed" or "off" (the note is marked "don't index")."""
    # Imported here: Django loads every tag library at start-up, and pages without
    # search tags must not pay for the search stack.
    from search import services

    return services.note_index_state(note)
