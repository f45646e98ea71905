"""Unrelated real text to grow one user's collection to 100k passages for search benches.

What people wrote in their own words about code and tools, as installed here: the docstrings
and comments of the libraries in .venv (transformers, torch, scikit-learn, scipy, numpy
first: prose about models, training, tensors and images, the hardest distractors for an ML
log), then of the standard library, then the English manual pages. None of it is about the
notes the dev questions ask for. Each source's lines (each line once in the whole set: the
libraries repeat their parameter boilerplate across hundreds of classes) are cut into
passages whose lengths are drawn from the corpus's own passages, five to a note. Cut by the
app's splitter instead, docstrings give passages of 17 words (median) against the corpus's
91, and BM25's length normalisation then ranks any short line with a query word above every
note the questions ask for: a collection nobody keeps. A note is titled as the app titles a
note saved without one (its first line) and its passages carry the title as context, as the
app's do. The app's model embeds them; the vectors are kept under var/bench-cache/, keyed by
each text's digest and the model, so a second run (the other database) does not embed again.
The set is the same on every run on one machine; another machine's installed libraries and
manual pages give another set, so figures are compared within one machine.

Used by bench/search_quality.py --distractors N: hybrid quality with the real keyword
ranking at the collection size where the keyword row budget matters.
"""

import ast
import gzip
import hashlib
import itertools
import random
import re
import sys
from pathlib import Path

import numpy as np

# Libraries first whose prose is closest to an ML research log: the hardest distractors.
PACKAGES = ("transformers", "torch", "sklearn", "scipy", "numpy", "sympy", "networkx", "matplotlib", "django", "celery")
MIN_WORDS = 4  # "Return x." says nothing
PER_NOTE = 5


_COMMENT = re.compile(r"^\s*#\s?(.*)$")
# PostgreSQL text cannot hold NUL, and no note holds the other control characters either.
_CONTROL = dict.fromkeys([*range(0, 9), *range(11, 32), 127])


def _prose_lines(path: Path) -> list[str]:
    """The lines of a source file's docstrings (module, classes, functions), then of its
    comments of three words or more: what people write about code, in their own words."""
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return []
    lines, queue = [], [tree]
    while queue:
        node = queue.pop(0)
        doc = ast.get_docstring(node, clean=True)
        if doc and len(doc.split()) >= MIN_WORDS:
            lines += [line.strip() for line in doc.splitlines() if line.strip()]
        queue += [child for child in ast.iter_child_nodes(node)
                  if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
    for line in source.splitlines():
        match = _COMMENT.match(line)
        if match and len(match.group(1).split()) >= 3 and not match.group(1).startswith(("noqa", "type:", "pragma", "-*-")):
            lines.append(match.group(1).strip())
    return lines


def _source_files():
    """Every Python file of the libraries (the ML ones first: the hardest distractors), then of the standard library."""
    site = Path(np.__file__).resolve().parent.parent
    stdlib = Path(ast.__file__).resolve().parent
    others = sorted(p for p in site.iterdir() if p.is_dir() and p.name not in PACKAGES and not p.name.endswith("-info"))
    for root in [*(site / name for name in PACKAGES), *others]:
        yield from sorted(root.rglob("*.py"))
    yield from sorted(p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts)


_ROFF_ESCAPE = re.compile(r"\\f(?:\(..|\[[^\]]*\]|.)|\\\(..|\\\[[^\]]*\]|\\s[-+]?\d+|\\[&^|%e]")


def _man_page_lines():
    """Per English manual page installed, its text lines without the roff markup."""
    for path in sorted(Path("/usr/share/man").glob("man[1-8]/*.gz")):
        try:
            text = gzip.decompress(path.read_bytes()).decode("utf-8")
        except (OSError, UnicodeDecodeError, EOFError):
            continue
        lines = []
        for line in text.splitlines():
            if line.startswith((".", "'")):
                continue
            line = " ".join(_ROFF_ESCAPE.sub("", line).replace("\\-", "-").replace("\\", "").split())
            if len(line.split()) >= 3:
                lines.append(line)
        if lines:
            yield lines


def notes(passages: int, corpus: list[dict]) -> list[tuple[dict, list]]:
    """([{"title", "body"}, its passages]) until the passages number at least `passages`."""
    from notes.models import derive_title
    from search.passages import Piece, split

    lengths = [len(p.text.split()) for n in corpus for p in split(n["title"], n["body"])]
    rng = random.Random(0)
    seen: set[str] = set()
    out, total = [], 0
    for lines in itertools.chain(map(_prose_lines, _source_files()), _man_page_lines()):
        chunks, chunk, target = [], [], rng.choice(lengths)
        for line in lines:
            line = line.translate(_CONTROL)
            if not line.strip() or line in seen:
                continue
            seen.add(line)
            chunk.append(line)
            if sum(len(x.split()) for x in chunk) >= target:
                chunks.append("\n".join(chunk))
                chunk, target = [], rng.choice(lengths)
        if chunk:
            chunks.append("\n".join(chunk))
        for at in range(0, len(chunks), PER_NOTE):
            texts = chunks[at:at + PER_NOTE]
            title = derive_title("", texts[0])
            pieces, offset = [], 0
            for text in texts:
                pieces.append(Piece(offset, offset + len(text), title, text))
                offset += len(text) + 2
            out.append(({"title": title, "body": "\n\n".join(texts)}, pieces))
            total += len(pieces)
            if total >= passages:
                return out
    raise SystemExit(f"only {total} distractor passages found; asked for {passages}")


def vectors(texts: list[str], cache_dir: Path) -> np.ndarray:
    """The app's embedding of every text; texts embedded before (by this model) come from the
    cache, var/bench-cache/distractor-vectors-<model>.npz, keyed by each text's digest."""
    from search.embedding import embed, model_name

    path = cache_dir / f"distractor-vectors-{hashlib.sha1(model_name().encode()).hexdigest()[:12]}.npz"
    known: dict[str, np.ndarray] = {}
    if path.exists():
        kept = np.load(path)
        known = dict(zip(kept["keys"].tolist(), kept["vectors"]))
    keys = [hashlib.sha1(text.encode()).hexdigest() for text in texts]
    missing = sorted({i for i, k in enumerate(keys) if k not in known})
    for start in range(0, len(missing), 2000):
        batch = missing[start:start + 2000]
        for i, vector in zip(batch, embed([texts[i] for i in batch])):
            known[keys[i]] = vector
        print(f"\r  embedded {start + len(batch)}/{len(missing)} distractor passages", end="", file=sys.stderr, flush=True)
    if missing:
        print(file=sys.stderr)
        cache_dir.mkdir(parents=True, exist_ok=True)
        np.savez(path, keys=np.array(list(known), dtype="U40"), vectors=np.stack(list(known.values())).astype(np.float32))
    return np.stack([known[k] for k in keys]).astype(np.float32)


def fill(user, passages: int, corpus: list[dict], cache_dir: Path) -> list[dict]:
    """Distractor notes and their embedded passages straight into the database, recorded as
    indexed (what the worker would have written); returns the notes for the BM25 floor."""
    from django.db import transaction

    from notes.models import Note
    from search import passages as splitting
    from search.embedding import model_name
    from search.indexing import note_fingerprint
    from search.models import IndexedSource, Passage, UserIndexState

    made = notes(passages, corpus)
    pieces = [piece for _, note_pieces in made for piece in note_pieces]
    matrix = vectors([piece.embedding_text() for piece in pieces], cache_dir)
    model = model_name()
    with transaction.atomic():
        # As indexing does once a user has vectors: the model their searches use.
        UserIndexState.objects.update_or_create(user=user, defaults={"seq": 1, "active_model": model})
        saved = Note.objects.bulk_create([Note(user=user, title=n["title"], body=n["body"]) for n, _ in made], batch_size=2000)
        rows, k = [], 0
        for note, (_, note_pieces) in zip(saved, made):
            for piece in note_pieces:
                rows.append(Passage(
                    user=user, kind=Passage.NOTE, note=note, start=piece.start, end=piece.end, context=piece.context,
                    text=piece.text, content_hash=splitting.content_hash(model, piece.context, piece.text),
                    vector=matrix[k].tobytes(), model=model, seq=1,
                ))
                k += 1
        Passage.objects.bulk_create(rows, batch_size=5000)
        IndexedSource.objects.bulk_create([
            IndexedSource(user=user, kind=Passage.NOTE, object_id=note.pk, fingerprint=note_fingerprint(note),
                          state=IndexedSource.INDEXED, model=model)
            for note in saved
        ], batch_size=5000)
    print(f"  {len(made)} distractor notes, {len(rows)} passages", file=sys.stderr)
    return [n for n, _ in made]
