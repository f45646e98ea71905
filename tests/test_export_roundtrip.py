"""Lablog JSON: export → import for another user gives back exactly the same data."""

import json
from datetime import date

from exchange.exporters import export_data, export_json, paper_bibtex
from exchange.importers import import_bytes
from notes.models import Note, Paper, Snippet


def make_library(user):
    paper = Paper.objects.create(
        user=user, title="Attention Is All You Need", authors="Ashish Vaswani\nNoam Shazeer", year=2017,
        venue="NeurIPS", arxiv_id="1706.03762", doi="10.5555/3295222.3295349", abstract="Transformers.",
        citation_key="vaswani2017",
    )
    Paper.objects.create(user=user, title="A paper no note mentions", author_count=6, published=date(2024, 6, 27))
    cache = Note.objects.create_note(user, title="KV cache", body="Keys and values.", tags=["inference"])
    attention = Note.objects.create_note(
        user, title="Attention", body="First draft. See [[KV cache]].", tags=["transformers"], paper=paper
    )
    attention = attention.apply_edit(base_version=1, title="Attention", body="Second draft. See [[KV cache]].",
                                     tags=["transformers", "reading"])
    attention = attention.apply_edit(base_version=2, title="Attention (final)", body="Final. See [[KV cache]] and [[Nowhere]].")
    Snippet.objects.create(note=attention, kind="quote", text="Attention is all you need", locator="p. 1")
    Snippet.objects.create(note=attention, kind="code", text="softmax(q @ k.T)", language="python", comment="core")
    Snippet.objects.create(note=cache, kind="equation", text=r"\mathrm{softmax}(QK^T/\sqrt{d})")
    Note.objects.filter(pk=cache.pk).update(searchable=False)


def comparable(user) -> dict:
    data = export_data(user)
    data.pop("exported")
    data.pop("origin")  # which account it is (exchange/origin.py)
    return data


def test_json_export_imports_back_losslessly_for_a_new_user(user, other_user):
    make_library(user)
    report = import_bytes(other_user, "lablog.json", export_json(user)).as_dict()
    assert report["failed"] == []
    assert report["created"] == {"notes": 2, "papers": 2, "snippets": 3, "runs": 0, "files": 0}
    assert comparable(other_user) == comparable(user)
    attention = Note.objects.get(user=other_user, title="Attention (final)")
    assert attention.version == 3
    assert [r.body for r in attention.revisions.order_by("version")] == [
        "First draft. See [[KV cache]].", "Second draft. See [[KV cache]].",
    ]
    assert list(Note.objects.get(user=other_user, title="KV cache").backlinks()) == [attention]
    assert attention.paper.user == other_user
    listed = Paper.objects.get(user=other_user, title="A paper no note mentions")
    assert (listed.author_count, listed.published, listed.year) == (6, date(2024, 6, 27), 2024)


def test_importing_the_same_export_twice_changes_nothing(user, other_user):
    make_library(user)
    data = export_json(user)
    import_bytes(other_user, "lablog.json", data)
    again = import_bytes(other_user, "lablog.json", data).as_dict()
    assert again["created"] == {"notes": 0, "papers": 0, "snippets": 0, "runs": 0, "files": 0}
    assert again["updated"] == {"notes": 2, "papers": 2, "snippets": 3, "runs": 0, "files": 0}
    assert comparable(other_user) == comparable(user)


def test_broken_items_in_an_export_fail_alone(user, other_user):
    make_library(user)
    data = json.loads(export_json(user))
    data["notes"][0]["version"] = "three"
    data["notes"].append({"title": "no key"})
    report = import_bytes(other_user, "lablog.json", json.dumps(data).encode()).as_dict()
    assert [f["reason"] for f in report["failed"]] == ["version must be a positive integer", "missing key"]
    assert Note.objects.filter(user=other_user).count() == 1


def test_bibtex_export_gives_the_date_and_month_and_reads_back(user, other_user):
    paper = Paper.objects.create(user=user, title="ITERTL", authors="A. Author", author_count=6,
                                 published=date(2024, 6, 27))
    bib = paper_bibtex(paper)
    assert "  year = {2024},\n  date = {2024-06-27},\n  month = jun\n}" in bib
    report = import_bytes(other_user, "papers.bib", bib.encode()).as_dict()
    assert report["failed"] == []
    assert Paper.objects.get(user=other_user).year == 2024
