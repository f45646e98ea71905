"""Splitting text into passages the model reads whole.

Heading-, paragraph- and sentence-aware, measured in the model's own word pieces:
a passage plus its context (the note title and section heading) fits in 256 pieces.
Passages keep their character offsets in the body for highlighting and scroll-to.
"""

import hashlib
import re
from dataclasses import dataclass

from search.embedding import MAX_TOKENS, count_tokens, tokenizer

CONTEXT_MAX_TOKENS = 48
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n")


@dataclass
class Piece:
    start: int
    end: int
    context: str
    text: str

    def embedding_text(self) -> str:
        return f"{self.context}\n{self.text}" if self.context else self.text


def content_hash(model: str, context: str, text: str) -> str:
    return hashlib.sha256(f"{model}\x00{context}\x00{text}".encode()).hexdigest()


def _blocks(body: str):
    """(start, end, heading) of each paragraph; a heading line starts a new section."""
    heading = ""
    pos = 0
    start = None
    for line in body.splitlines(keepends=True):
        stripped = line.strip()
        match = _HEADING.match(line.rstrip("\n"))
        if match or not stripped:
            if start is not None:
                yield start, pos, heading
                start = None
            if match:
                heading = match.group(2).strip()
        elif start is None:
            start = pos
        pos += len(line)
    if start is not None:
        yield start, pos, heading


def _code_runs(body: str, start: int, end: int) -> list[tuple[int, int, bool]]:
    """(start, end, is code) of the runs of code lines and of prose lines in a paragraph
    (code pasted without blank lines around it is common). A line too short to tell
    (`continue`, `}`) goes with the run it is in."""
    runs: list[list] = []
    fenced = False
    pos = start
    for line in body[start:end].splitlines(keepends=True):
        text = line.strip()
        if _FENCE.match(line):
            code, fenced = True, not fenced
        elif fenced:
            code = True
        elif len(text.split()) <= 1 and len(text) < 12:
            code = runs[-1][2] if runs else _is_code(line)
        else:
            code = _is_code(line)
        if runs and runs[-1][2] == code:
            runs[-1][1] = pos + len(line)
        else:
            runs.append([pos, pos + len(line), code])
        pos += len(line)
    return [(*_trim(body, s, e), code) for s, e, code in runs]


def _trim(body: str, start: int, end: int) -> tuple[int, int]:
    while start < end and body[start].isspace():
        start += 1
    while end > start and body[end - 1].isspace():
        end -= 1
    return start, end


def _split_long(body: str, start: int, end: int, budget: int) -> list[tuple[int, int]]:
    """Sentences of an over-long paragraph; a sentence still too long is cut at word pieces."""
    spans, pos = [], start
    for m in _SENTENCE_END.finditer(body, start, end):
        spans.append(_trim(body, pos, m.start()))
        pos = m.end()
    spans.append(_trim(body, pos, end))
    spans = [s for s in spans if s[1] > s[0]]
    counts = count_tokens([body[s:e] for s, e in spans])
    out = []
    for (s, e), n in zip(spans, counts):
        if n <= budget:
            out.append((s, e))
            continue
        offsets = tokenizer().encode(body[s:e], add_special_tokens=False).offsets
        for i in range(0, len(offsets), budget):
            chunk = offsets[i : i + budget]
            out.append((s + chunk[0][0], s + chunk[-1][1]))
    return out


def _context(title: str, heading: str) -> str:
    context = f"{title} — {heading}" if heading and heading != title else title
    ids = tokenizer().encode(context, add_special_tokens=False)
    if len(ids.ids) > CONTEXT_MAX_TOKENS:
        context = context[: ids.offsets[CONTEXT_MAX_TOKENS - 1][1]]
    return context


def split(title: str, body: str, max_tokens: int = MAX_TOKENS) -> list[Piece]:
    """The passages of a note body (title and heading carried into each one's context)."""
    units = []  # (start, end, heading, is code, tokens)
    contexts: dict[str, str] = {}
    # Code and prose never share a passage: what a note says is then not blurred by what it
    # pastes (related notes weigh code passages little, see prose_share).
    blocks = [
        (cs, ce, h, code)
        for s, e, h in _blocks(body)
        for cs, ce, code in _code_runs(body, *_trim(body, s, e))
        if ce > cs
    ]
    counts = count_tokens([body[s:e] for s, e, _, _ in blocks])
    for (s, e, heading, code), n in zip(blocks, counts):
        if heading not in contexts:
            contexts[heading] = _context(title, heading)
        budget = _budget(contexts[heading], max_tokens)
        if n <= budget:
            units.append((s, e, heading, code, n))
        else:
            parts = _split_long(body, s, e, budget)
            for (ps, pe), pn in zip(parts, count_tokens([body[ps:pe] for ps, pe in parts])):
                units.append((ps, pe, heading, code, pn))
    pieces: list[Piece] = []
    current = None  # [start, end, heading, is code, tokens]
    for s, e, heading, code, n in units:
        budget = _budget(contexts[heading], max_tokens)
        if current and current[2] == heading and current[3] == code and current[4] + n <= budget:
            current[1], current[4] = e, current[4] + n
            continue
        if current:
            pieces.append(Piece(current[0], current[1], contexts[current[2]], body[current[0] : current[1]]))
        current = [s, e, heading, code, n]
    if current:
        pieces.append(Piece(current[0], current[1], contexts[current[2]], body[current[0] : current[1]]))
    return pieces


def _budget(context: str, max_tokens: int) -> int:
    # [CLS] + context + [SEP]... the context and text are joined by a newline (no piece).
    return max_tokens - 2 - (count_tokens([context])[0] if context else 0)


def split_plain(context: str, text: str, max_tokens: int = MAX_TOKENS) -> list[Piece]:
    """A paper abstract or a snippet: same splitting, offsets relative to `text`, no headings."""
    pieces = split("", text, max_tokens)
    for p in pieces:
        p.context = context
    budget = _budget(context, max_tokens)
    if any(count_tokens([p.text])[0] > budget for p in pieces):
        pieces = [Piece(s, e, context, text[s:e]) for s, e in _split_long(text, 0, len(text), budget)]
    return pieces


# --- how much of a passage is prose -----------------------------------------------------
# Related notes are about meaning: two notes that paste the same boilerplate (imports,
# `device = torch.device('cpu')`) are not about the same thing, so a passage counts by the
# share of its text that is prose. Code is recognised by its lines: inside a fence, or
# shaped like a statement (import, def/class, block headers, assignments, calls), or dense
# in symbols.
_FENCE = re.compile(r"^\s*(```|~~~)")
_STATEMENT = re.compile(
    r"^\s*(?:import\s+\w|from\s+[\w.]+\s+import\b|def\s+\w+\s*\(|class\s+\w+\s*[(:]|return\b|@\w"
    r"|[A-Za-z_][\w.\[\]'\"]*(?:\s*,\s*[A-Za-z_][\w.\[\]'\"]*)*\s*(?:[-+*/%|&]|\*\*)?=(?!=)\s*\S"
    r"|\$\s|>>>\s|[}\]);]+\s*$)"
)
_HEADER = re.compile(r"^\s*(?:for|while|if|elif|else|with|try|except|finally)\b([^!?]*):\s*$")
_CALL = re.compile(r"[\w\])]\.\w+\(|\w\([^)]*\)\s*[:;]?\s*$")
_SYMBOLS = frozenset("()[]{}=<>_;*/\\+|@#$%&^~`")


def _is_code(line: str) -> bool:
    stripped = line.strip()
    if _STATEMENT.match(line) or _CALL.search(stripped):
        return True
    header = _HEADER.match(line)
    if header and (re.search(r"[=()%\[\]]|\.\w", header.group(1)) or len(stripped.split()) <= 4):
        return True
    return sum(ch in _SYMBOLS for ch in stripped) > 0.12 * len(stripped)


def prose_share(text: str) -> float:
    """Share of the text's characters (0..1) on lines that read as prose rather than code."""
    runs = _code_runs(text, 0, len(text))
    total = sum(e - s for s, e, _ in runs)
    return sum(e - s for s, e, code in runs if not code) / total if total else 0.0
