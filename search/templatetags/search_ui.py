"""Template helpers of the search UI: highlighted passages, tag links and a note's index state."""

import os
import re
import sqlite3
from functools import lru_cache
from html import escape  # Django's escape() is this, behind a lazy-string wrapper that costs per call
from urllib.parse import quote

from django import template
from django.urls import reverse
from django.utils.safestring import mark_safe

from search import keyword_terms

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


def _tokens(words: set[str] | list[str]) -> dict[str, str | None]:
    """Each word's token as the keyword index makes it (FTS5's tokenizer, kept per word); None
    for every word where this Python's SQLite has no FTS5 (a PostgreSQL server's may lack it):
    words are then marked where they are the query's own."""
    try:
        return keyword_terms.stems(tuple(words))
    except sqlite3.OperationalError:
        return dict.fromkeys(words)


def _prefix(term: str, token: str | None) -> str:
    # The start a word must have to be worth asking its token: the Porter stemmer changes only
    # a word's end ("happy" -> "happi"), so a word with the term's token starts like both.
    return (os.path.commonprefix([term, token]) or term) if token else term


# A results page marks the same query in every hit, and the next pages ask it again; kept
# for as many questions as a lab's members ask in a while (its vectors are kept likewise).
@lru_cache(maxsize=1024)
def _marking(query: str) -> tuple[re.Pattern, frozenset[str]] | None:
    """The words that may be marked (a regex), and the tokens that make one marked: the query
    words' tokens as the keyword index makes them, so "embeddings" marks "embedding" (what
    the search matched) and "how" does not mark "however"."""
    terms = query_terms(query)
    if not terms:
        return None
    tokens = _tokens(terms)
    starts = sorted({_prefix(term, tokens[term]) for term in terms}, key=len, reverse=True)
    wanted = frozenset(tokens[term] or term for term in terms)
    return re.compile(r"(?<!\w)(?:%s)\w*" % "|".join(map(re.escape, starts)), re.IGNORECASE), wanted


def _marked(text: str, query: str) -> list[tuple[int, int]]:
    """Where `text` has a word with the token of a query word, in order."""
    marking = _marking(query)
    if marking is None:
        return []
    pattern, wanted = marking
    found = list(pattern.finditer(text))
    words = [match.group().casefold() for match in found]
    tokens = _tokens(set(words))
    # "one" is "on" to the stemmer: a stop word is never worth marking
    return [match.span() for match, word in zip(found, words) if (tokens[word] or word) in wanted and word not in STOPWORDS]


# A hit shows about this much of its passage (a passage is up to ~250 words: ten whole ones
# made a results page several screens long on a phone), from a little before its first
# marked word, so that what matched is in view; the note opens at the whole passage.
EXCERPT_CHARS = 300
EXCERPT_LEAD = 60


def _excerpt(text: str, anchor: int) -> tuple[int, int]:
    """The part of `text` to show: all of it when short, else about EXCERPT_CHARS from the
    start of the sentence (or word) a little before `anchor`, cut at a space."""
    if len(text) <= EXCERPT_CHARS:
        return 0, len(text)
    start = max(0, min(anchor - EXCERPT_LEAD, len(text) - EXCERPT_CHARS))
    if start:  # begin at a sentence, if one begins a little after, else at a word
        near = min(anchor, start + EXCERPT_LEAD)
        sentence = min((i for i in (text.find(". ", start, near), text.find("\n", start, near)) if i >= 0), default=-1)
        start = sentence + 1 if sentence >= 0 else (text.find(" ", start, anchor) + 1 or start)
        while start < anchor and text[start].isspace():
            start += 1
    end = start + EXCERPT_CHARS
    if end < len(text):
        space = text.rfind(" ", start + EXCERPT_CHARS // 2, end)
        end = space if space > anchor else end  # a word too long to cut at a space is cut inside
    return start, min(end, len(text))


# The filters below write the HTML of what a results page shows for every hit: written with
# template tags and Django's filters, the dates, tags and marked passages of ten hits made a
# page's render 1.8 ms slower (bench/render_ab.py --baseline bebaa1c: 9.48 -> 7.83 ms).
@register.filter(needs_autoescape=False)
def highlight_terms(text, query):
    """A hit's passage: escaped, every word with the token of a query word in <mark>, and a
    long one cut to an excerpt around its first marked word ("…" where it is cut)."""
    text = str(text or "")
    marks = _marked(text, str(query or ""))
    start, end = _excerpt(text, marks[0][0] if marks else 0)
    out, last = ["…" if start else ""], start
    for mark_start, mark_end in marks:
        if start <= mark_start and mark_end <= end:
            out += [escape(text[last:mark_start]), f"<mark>{escape(text[mark_start:mark_end])}</mark>"]
            last = mark_end
    out.append(escape(text[last:end]))
    out.append("…" if end < len(text) else "")
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
