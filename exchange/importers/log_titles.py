"""Readable titles for research-log entries whose first line is only a reference.

The log's table of contents lists readable titles ("Loopy - Make images speak and
sing") in the order of the sections they head, but the headings themselves are gone
from the text, a section may hold several entries (or none that starts at a link), and
the titles rarely repeat the entry's words. Titles are matched to entries by an
order-preserving alignment over word agreement (rare words weigh more), taking only
pairs that are each other's best: a wrong title is worse than none. Entries left
without one are titled by the paper's name where the log gives it elsewhere, by the
words on their reference line, or by their first sentence.
"""

import math
import re
from collections import Counter

from notes import arxiv

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "the and for with from that this into your you are was not but how why what its it's can just make "
    "by of to in on is a an or be at as my me we our paper papers cool insane".split()
)
# A title shares at least this share of its (IDF-weighted) words with the entry it names.
MIN_AGREEMENT = 0.4
# Only an entry's opening lines are compared: the later ones are often the next, untitled section.
ENTRY_LINES = 3


def _stems(text: str) -> set[str]:
    """Words folded to a 5-letter prefix, so "quantisation" meets "quantized" and "dreams" meets "dreamer"."""
    words = _WORD.findall(text.lower().replace("’", "'"))
    return {w[:5] for w in words if (len(w) >= 3 or any(c.isdigit() for c in w)) and w not in _STOP}


def align(toc: list[str], entries: list[str]) -> dict[int, int]:
    """entry index -> toc index, for the best order-preserving match of titles to entry texts."""
    entry_stems = [_stems(text) for text in entries]
    frequency = Counter(stem for stems in entry_stems for stem in stems)
    idf = {stem: math.log((1 + len(entries)) / (1 + count)) + 1 for stem, count in frequency.items()}
    title_stems = [_stems(title) for title in toc]

    def agreement(t: int, e: int) -> float:
        stems = title_stems[t]
        total = sum(idf.get(s, math.log(1 + len(entries)) + 1) for s in stems)
        if not total:
            return 0.0
        return sum(idf[s] for s in stems & entry_stems[e]) / total

    m, n = len(toc), len(entries)
    if not m or not n:
        return {}
    scores = [[agreement(t, e) for e in range(n)] for t in range(m)]
    # Only a title's best entry that also has this title as its best counts (mutual best),
    # so a title never lands on an entry that merely shares common words with it.
    best_entry = [max(range(n), key=lambda e: scores[t][e]) for t in range(m)]
    best_title = [max(range(m), key=lambda t: scores[t][e]) for e in range(n)]

    def usable(t: int, e: int) -> bool:
        return scores[t][e] >= MIN_AGREEMENT and best_entry[t] == e and best_title[e] == t

    # best[t][e]: the best total agreement of titles t.. with entries e.., in order.
    best = [[0.0] * (n + 1) for _ in range(m + 1)]
    for t in range(m - 1, -1, -1):
        for e in range(n - 1, -1, -1):
            take = scores[t][e] + best[t + 1][e + 1] if usable(t, e) else -1.0
            best[t][e] = max(take, best[t + 1][e], best[t][e + 1])
    matched, t, e = {}, 0, 0
    while t < m and e < n:
        if usable(t, e) and best[t][e] == scores[t][e] + best[t + 1][e + 1]:
            matched[e] = t
            t, e = t + 1, e + 1
        elif best[t][e] == best[t + 1][e]:
            t += 1
        else:
            e += 1
    return matched


_BRACKETED = re.compile(r"\[(?P<id>\d{4}\.\d{4,5})(?:v\d+)?\]\s*(?P<title>[^\n\[]+)")
_URL_THEN_TITLE = re.compile(r"arxiv\.org/(?:abs|pdf)/(?P<id>\d{4}\.\d{4,5})\S*[ \t]+\[(?P<title>[^\]\n]+)\]")


def named_papers(text: str) -> dict[str, str]:
    """arXiv id -> the title the log gives it anywhere (`[2212.10496] Precise Zero-Shot …`,
    `https://arxiv.org/abs/2305.01625/ [Unlimiformer - kNN inside transformers]`), first one wins."""
    names = {}
    for match in _BRACKETED.finditer(text):
        title = match.group("title").split(" - ")[0].strip(" -:|")
        if len(title.split()) >= 2:
            names.setdefault(match.group("id"), title)
    for match in _URL_THEN_TITLE.finditer(text):
        names.setdefault(match.group("id"), match.group("title").strip())
    return names


_REFERENCE_PARTS = re.compile(
    r"^\s*paper\s*[-:]?\s*|https?://\S+|\[\d{4}\.\d{4,5}(?:v\d+)?\]|\((?:microsoft|google|meta|openai)\)", re.I
)


_STARTS_WITH_LINK = re.compile(r"^\s*(paper\s*[-:]?\s*)?https?://", re.I)


def own_words(heading: str) -> str:
    """What a reference line says besides the reference: `https://… - how i beat the big wigs` -> that comment."""
    rest = _REFERENCE_PARTS.sub(" ", heading)
    return " ".join(rest.split()).strip(" -–:|[]")


def is_bare(heading: str) -> bool:
    """A first line that is only a reference (a link, an id), with no words of its own to title the note."""
    return len(own_words(heading).split()) < 2


def first_line(body: str, limit: int = 100) -> str:
    """The body's first line that is not a reference, cut at a word boundary."""
    for line in body.split("\n"):
        text = " ".join(line.split())
        if text and not is_bare(text) and not text.startswith(("http://", "https://")):
            sentence = re.match(r"^(.{20,%d}?[.!?])(\s|$)" % limit, text)
            if sentence:
                return sentence.group(1)
            if len(text) <= limit:
                return text
            return text[:limit].rsplit(" ", 1)[0] + "…"
    return ""


def entry_titles(toc: list[str], entries: list[tuple[str, str]], papers: dict[str, str]) -> list[str]:
    """A readable title per (heading, body) entry: its heading when that says something, else
    the table of contents' title, the paper's title as the log names it, or its first line."""
    texts = []
    for heading, body in entries:
        paper_id = arxiv.find(heading)
        opening = "\n".join(body.split("\n")[:ENTRY_LINES])
        texts.append(f"{heading}\n{papers.get(paper_id, '')}\n{opening}")
    toc_for = align(toc, texts)
    titles = []
    for index, (heading, body) in enumerate(entries):
        words = own_words(heading)
        if not _STARTS_WITH_LINK.match(heading) and not is_bare(heading):
            titles.append(heading)
        elif index in toc_for:
            titles.append(toc[toc_for[index]])
        elif not is_bare(heading):
            titles.append(words)
        else:
            titles.append(papers.get(arxiv.find(heading)) or first_line(body) or heading)
    return titles
