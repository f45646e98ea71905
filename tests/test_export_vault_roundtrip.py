"""The Markdown vault round trip is stable: export → import into another account → export
gives the same files, on the real material (log, listings, feed)."""

import io
import zipfile

import pytest

from exchange.exporters import export_markdown_zip
from exchange.importers import import_bytes, import_path
from notes.models import Note, Paper, Snippet
from tests.test_import_files import data_file


def files(user) -> dict[str, str]:
    archive = zipfile.ZipFile(io.BytesIO(export_markdown_zip(user)))
    return {name: archive.read(name).decode() for name in archive.namelist()}


def differences(a: dict, b: dict) -> list[str]:
    out = [f"only in first: {n}" for n in sorted(a.keys() - b.keys())]
    out += [f"only in second: {n}" for n in sorted(b.keys() - a.keys())]
    for name in sorted(a.keys() & b.keys()):
        if a[name] != b[name]:
            left, right = a[name].split("\n"), b[name].split("\n")
            line = next((i for i, (x, y) in enumerate(zip(left, right)) if x != y), min(len(left), len(right)))
            out.append(f"{name} line {line + 1}: {left[line:line + 1]} != {right[line:line + 1]}")
    return out


@pytest.fixture
def corpus(user):
    for name in ("daily-papers-1.txt", "daily-papers-2.txt", "research-log.txt", "blog-feed.txt"):
        assert import_path(user, data_file(name)).as_dict()["failed"] == []
    note = Note.objects.for_user(user).get(title="DECKARD - RL Agent that dreams")
    Snippet.objects.create(note=note, kind="link", url='https://example.org/a?q="x">y', text="odd link")
    Snippet.objects.create(note=note, kind="quote", text="A quote\nover two lines", locator="p. 3")
    return user


def test_vault_export_import_export_gives_the_same_files(corpus, other_user):
    first = files(corpus)
    report = import_bytes(other_user, "vault.zip", export_markdown_zip(corpus)).as_dict()
    assert report["failed"] == []
    second = files(other_user)
    assert differences(first, second) == []
    # And once more: nothing grows cycle after cycle.
    import_bytes(other_user, "vault.zip", export_markdown_zip(other_user))
    assert differences(first, files(other_user)) == []


def test_vault_keeps_papers_whole(corpus, other_user):
    import_bytes(other_user, "vault.zip", export_markdown_zip(corpus))
    for paper in Paper.objects.for_user(corpus):
        copy = Paper.objects.for_user(other_user).get(title=paper.title, arxiv_id=paper.arxiv_id)
        fields = ("abstract", "author_count", "published", "year", "authors")
        assert [getattr(copy, f) for f in fields] == [getattr(paper, f) for f in fields], paper.title
    linked = Note.objects.for_user(corpus).exclude(paper=None).count()
    assert Note.objects.for_user(other_user).exclude(paper=None).count() == linked


def test_the_odd_link_snippet_survives(corpus, other_user):
    import_bytes(other_user, "vault.zip", export_markdown_zip(corpus))
    note = Note.objects.for_user(other_user).get(title="DECKARD - RL Agent that dreams")
    link = note.snippets.get(kind="link")
    assert link.text == "odd link" and link.url.startswith("https://example.org/a?q=")
    assert note.snippets.get(kind="quote").locator == "p. 3"


def test_vault_into_the_same_account_creates_nothing(corpus):
    before = files(corpus)
    counts = (Note.objects.for_user(corpus).count(), Paper.objects.for_user(corpus).count(),
              Snippet.objects.filter(note__user=corpus).count())
    report = import_bytes(corpus, "vault.zip", export_markdown_zip(corpus)).as_dict()
    assert report["failed"] == []
    assert report["created"] == {"notes": 0, "papers": 0, "snippets": 0, "runs": 0, "files": 0}
    assert (Note.objects.for_user(corpus).count(), Paper.objects.for_user(corpus).count(),
            Snippet.objects.filter(note__user=corpus).count()) == counts
    assert not Note.objects.for_user(corpus).filter(version__gt=1).exists()
    assert differences(before, files(corpus)) == []


def test_a_damaged_file_in_a_zip_is_reported_and_the_rest_imported(user):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("notes/good.md", "# Good\n\nKept.")
        archive.writestr("notes/bad.md", "# Bad\n\nThis file's bytes get damaged.")
        archive.writestr("notes/also good.md", "# Also good\n\nKept too.")
    data = bytearray(buffer.getvalue())
    at = data.index(b"This file's bytes")
    data[at:at + 4] = b"XXXX"  # same length, so only the CRC check can tell
    report = import_bytes(user, "vault.zip", bytes(data)).as_dict()
    assert [f["item"] for f in report["failed"]] == ["notes/bad.md"]
    assert "CRC" in report["failed"][0]["reason"]
    assert sorted(Note.objects.for_user(user).values_list("title", flat=True)) == ["also good", "good"]
