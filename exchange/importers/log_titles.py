"""Readable titles for research-log entries whose first line is only a reference.

The log's table of contents lists readable titles ("Loopy - Make images speak and
sing") in the order of the sections they head, but the headings themselves are gone
from the text, a section may hold several entries (or none that starts at a link), and
the titles rarely repeat the entry's words. Titles are matched to entries by a global
order-preserving alignment (dynamic programming over every title and entry) of pairs whose
agreement stands out in words (rare words weigh more) and in meaning (MiniLM), kept only
where alignments reading different numbers of opening lines agree: a wrong title is worse
than none. Entries left without one are titled by the paper's name where the log gives it
elsewhere, by the words on their reference line, or by their first sentence.
"""

import math
import re
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass

import numpy as np

from notes import arxiv

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "the and for with from that this into your you are was not but how why what its it's can just make "
    "by of to in on is a an or be at as my me we our paper papers cool insane".split()
)
# A title is matched to an entry only where their agreement stands out this many standard
# deviations (lexical and semantic standouts summed) from the title's agreement with the
# other entries and the entry's with the other titles, and the meaning alone stands out
# MIN_MEANING: one shared word ("expert" in "Vector DB expert" and "Mixture of Experts")
# is not enough. Measured on research-log.txt by reading the matches: the right ones
# stand out 1.9 to 4.6 in meaning, the wrong ones at most 1.3.
MIN_STANDOUT = 3.0
MIN_MEANING = 1.5
# How many opening lines of an entry are compared: later ones are often the next,
# untitled section, too few say little. A title must be matched the same way from at
# least two of these openings, so no single knob decides a title.
OPENINGS = (3, 5, 8)


def _stems(text: str) -> set[str]:
    """Words folded to a 5-letter prefix, so "quantisation" meets "quantized" and "dreams" meets "dreamer"."""
    words = _WORD.findall(text.lower().replace("’", "'"))
    return {w[:5] for w in words if (len(w) >= 3 or any(c.isdigit() for c in w)) and w not in _STOP}


def _lexical(toc: list[str], texts: list[str]) -> np.ndarray:
    """[title, entry] share of the title's words (rare ones weigh more) found in the entry."""
    entry_stems = [_stems(text) for text in texts]
    frequency = Counter(stem for stems in entry_stems for stem in stems)
    unseen = math.log(1 + len(texts)) + 1
    idf = {stem: math.log((1 + len(texts)) / (1 + count)) + 1 for stem, count in frequency.items()}
    scores = np.zeros((len(toc), len(texts)))
    for t, title in enumerate(toc):
        stems = _stems(title)
        total = sum(idf.get(s, unseen) for s in stems)
        for e, found in enumerate(entry_stems):
            scores[t, e] = sum(idf[s] for s in stems & found) / total if total else 0.0
    return scores


# Vectors of the texts aligned lately, by model and text. Re-importing a log (after adding
# entries, or to pick up an improved importer) aligns mostly the same texts again, and
# embedding them is most of an import's time on a small CPU: ~20 s for research-log.txt's
# 358 texts on 2 cores. 4096 vectors are 6 MB.
VECTORS_KEPT = 4096
_kept: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_kept_lock = threading.Lock()


def _vectors(texts: list[str]) -> dict[str, np.ndarray] | None:
    """Each distinct text's MiniLM vector (the titles rarely repeat the entry's words), or None
    where the model is unavailable: then words alone decide. Embedded once for every alignment
    (the titles, and the entries shorter than an opening, are the same in each), and kept."""
    from search import embedding

    model = embedding.model_name()
    distinct = list(dict.fromkeys(texts))
    with _kept_lock:
        known = {text: _kept[model, text] for text in distinct if (model, text) in _kept}
        for text in known:
            _kept.move_to_end((model, text))
    missing = [text for text in distinct if text not in known]
    try:
        fresh = dict(zip(missing, embedding.embed(missing)))
    except embedding.ModelUnavailable:
        return None
    with _kept_lock:
        for text, vector in fresh.items():
            _kept[model, text] = vector
        while len(_kept) > VECTORS_KEPT:
            _kept.popitem(last=False)
    return known | fresh


def _semantic(toc: list[str], texts: list[str], vectors: dict[str, np.ndarray]) -> np.ndarray:
    """[title, entry] cosine of their vectors."""
    return np.stack([vectors[t] for t in toc]) @ np.stack([vectors[t] for t in texts]).T


def _standout(scores: np.ndarray) -> np.ndarray:
    """How far each pair's score stands above its title's row and its entry's column, in
    standard deviations: a title agreeing with every entry alike says nothing."""
    rows = (scores - scores.mean(1, keepdims=True)) / (scores.std(1, keepdims=True) + 1e-9)
    columns = (scores - scores.mean(0, keepdims=True)) / (scores.std(0, keepdims=True) + 1e-9)
    return (rows + columns) / 2


def _ordered_pairs(gain: np.ndarray) -> list[tuple[int, int]]:
    """(title, entry) pairs in order on both sides with the largest total positive gain
    (a global alignment: one local mistake cannot shift the titles after it)."""
    m, n = gain.shape
    best = np.zeros((m + 1, n + 1))
    for t in range(m - 1, -1, -1):
        for e in range(n - 1, -1, -1):
            take = gain[t, e] + best[t + 1, e + 1] if gain[t, e] > 0 else -1.0
            best[t, e] = max(take, best[t + 1, e], best[t, e + 1])
    pairs, t, e = [], 0, 0
    while t < m and e < n:
        if gain[t, e] > 0 and best[t, e] == gain[t, e] + best[t + 1, e + 1]:
            pairs.append((t, e))
            t, e = t + 1, e + 1
        elif best[t, e] == best[t + 1, e]:
            t += 1
        else:
            e += 1
    return pairs


def align(toc: list[str], texts: list[str], vectors: dict[str, np.ndarray]) -> dict[int, int]:
    """entry index -> toc index, for the order-preserving match of titles to entry texts
    whose pairs stand out (see MIN_STANDOUT), `vectors` holding every title's and text's."""
    meaning = _standout(_semantic(toc, texts, vectors))
    standout = _standout(_lexical(toc, texts)) + meaning
    gain = np.where(meaning >= MIN_MEANING, standout - MIN_STANDOUT, -1.0)
    return {e: t for t, e in _ordered_pairs(gain)}


def agreed_alignment(toc: list[str], texts_by_opening: list[list[str]]) -> dict[int, int]:
    """entry index -> toc index where most of the alignments (one per opening length) agree,
    kept in order: a pair only one way of reading the entries finds is left out. None without
    the embedding model: words alone match too many wrong titles, and none is better."""
    if not toc or not any(texts_by_opening):
        return {}
    vectors = _vectors(toc + [text for texts in texts_by_opening for text in texts])
    if vectors is None:
        return {}
    votes = Counter(pair for texts in texts_by_opening for pair in align(toc, texts, vectors).items())
    needed = len(texts_by_opening) // 2 + 1
    agreed = sorted(pair for pair, count in votes.items() if count >= needed)
    matched, last_title = {}, -1
    for e, t in agreed:  # majorities of ordered alignments are ordered; this keeps it so
        if t > last_title:
            matched[e], last_title = t, t
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


# An entry no table-of-contents title matched is shown the unmatched titles between its
# matched neighbours, when there are at most this many: its section's title is likely among
# them (ColPali's entry, the bare link alone, sits between Loopy's and the next match, with
# ColPali's, Janus's and one more title in between). More would not help the user choose.
MAX_CANDIDATES = 4


@dataclass(frozen=True)
class EntryTitle:
    title: str
    # When no table-of-contents title matched the entry: the titles its section may have.
    candidates: tuple[str, ...] = ()


def _candidates(toc: list[str], toc_for: dict[int, int], index: int) -> tuple[str, ...]:
    """The table of contents' titles between those of the matched entries around `index`."""
    before = max((t for e, t in toc_for.items() if e < index), default=-1)
    after = min((t for e, t in toc_for.items() if e > index), default=len(toc))
    between = toc[before + 1 : after]
    return tuple(between) if len(between) <= MAX_CANDIDATES else ()


def entry_titles(toc: list[str], entries: list[tuple[str, str]], papers: dict[str, str],
                 openings: tuple[int, ...] = OPENINGS) -> list[EntryTitle]:
    """A readable title per (heading, body) entry: its heading when that says something, else
    the table of contents' title, the paper's title as the log names it, or its first line;
    with the titles it may have instead (see MAX_CANDIDATES) where the table of contents gave none."""
    texts_by_opening = []
    for lines in openings:
        texts = []
        for heading, body in entries:
            opening = "\n".join(body.split("\n")[:lines])
            texts.append(f"{heading}\n{papers.get(arxiv.find(heading), '')}\n{opening}")
        texts_by_opening.append(texts)
    toc_for = agreed_alignment(toc, texts_by_opening)
    titles = []
    for index, (heading, body) in enumerate(entries):
        if not _STARTS_WITH_LINK.match(heading) and not is_bare(heading):
            titles.append(EntryTitle(heading))
        elif index in toc_for:
            titles.append(EntryTitle(toc[toc_for[index]]))
        else:
            title = own_words(heading) if not is_bare(heading) else (
                papers.get(arxiv.find(heading)) or first_line(body) or heading)
            titles.append(EntryTitle(title, _candidates(toc, toc_for, index)))
    return titles
