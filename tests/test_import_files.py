"""Importing the real data files: counts, paper links, and importing twice."""

import importlib
from datetime import date
from pathlib import Path

import pytest
from django.apps import apps as django_apps

from exchange.importers import detect, import_bytes, import_path
from notes.models import Note, Paper

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def data_file(name: str) -> Path:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"{path} is not on this machine")
    return path


@pytest.mark.parametrize(
    "name, fmt",
    [("research-log.txt", "log"), ("daily-papers-1.txt", "papers"), ("daily-papers-2.txt", "papers"),
     ("blog-feed.txt", "feed")],
)
def test_format_of_each_data_file_is_detected(name, fmt):
    path = data_file(name)
    assert detect(path.name, path.read_bytes()) == fmt


def test_research_log_becomes_one_note_per_entry_linked_to_papers(user):
    report = import_path(user, data_file("research-log.txt")).as_dict()
    assert report["failed"] == []
    notes = Note.objects.for_user(user)
    assert report["created"]["notes"] == notes.count() == 143
    # The table of contents is skipped: the first entry is the first line after it.
    assert not notes.filter(title__startswith="HuggingGPT (could").exists()
    assert notes.filter(title__startswith="Need to play around with AutoGPT").count() == 1
    linked = notes.exclude(paper=None)
    assert linked.count() == 131
    assert report["created"]["papers"] == Paper.objects.for_user(user).count() == 122
    unlimiformer = notes.get(title__startswith="Paper: [2305.01625]")
    assert unlimiformer.paper.arxiv_id == "2305.01625"
    assert unlimiformer.paper.title == "Unlimiformer: Long-Range Transformers with Unlimited Length Input"
    assert unlimiformer.body.startswith("So how to increase the context length")
    # Two entries on the same paper share one Paper; their notes get distinct titles.
    st_moe = notes.filter(paper__arxiv_id="2202.08906").order_by("created", "pk")
    assert [n.title[-5:] for n in st_moe] == ["odels", "s (2)"]
    assert Paper.objects.for_user(user).filter(arxiv_id="2202.08906").count() == 1


def test_reimporting_the_research_log_updates_instead_of_duplicating(user):
    path = data_file("research-log.txt")
    import_path(user, path)
    papers = Paper.objects.for_user(user).count()
    report = import_path(user, path).as_dict()
    assert report["created"] == {"notes": 0, "papers": 0, "snippets": 0, "runs": 0, "files": 0}
    assert report["updated"]["notes"] == 143
    assert Note.objects.for_user(user).count() == 143
    assert Paper.objects.for_user(user).count() == papers
    # Nothing changed, so nothing got a new revision.
    assert not Note.objects.for_user(user).filter(version__gt=1).exists()


@pytest.mark.parametrize("name, count", [("daily-papers-1.txt", 72), ("daily-papers-2.txt", 16)])
def test_paper_listing_gives_one_paper_per_listed_paper_with_abstract(user, name, count):
    report = import_path(user, data_file(name)).as_dict()
    papers = Paper.objects.for_user(user)
    assert report["created"]["papers"] == papers.count() == count
    assert not papers.filter(abstract="").exists()
    assert not Note.objects.for_user(user).exists()
    assert not papers.filter(title__in=["new", "Subscribe", "Daily Papers", "byAK and the research community"]).exists()
    assert import_path(user, data_file(name)).as_dict()["updated"]["papers"] == count
    assert papers.count() == count


@pytest.mark.parametrize("title, authors, published", [
    ("ITERTL: An Iterative Framework for Fine-tuning LLMs for RTL Code Generation", 6, date(2024, 6, 27)),
    ("The Two-Pass Softmax Algorithm", 2, date(2020, 1, 13)),
    ("AutoDiffusion: Training-Free Optimization of Time Steps and Architectures for Automated Diffusion Model "
     "Acceleration", 10, date(2023, 9, 19)),
    # The date is followed by the upvote count ("Nov 18, 2023 6").
    ("Orca 2: Teaching Small Language Models How to Reason", 15, date(2023, 11, 18)),
])
def test_paper_listing_keeps_author_count_and_date_in_their_own_fields(user, title, authors, published):
    import_path(user, data_file("daily-papers-1.txt"))
    paper = Paper.objects.get(user=user, title=title)
    assert (paper.author_count, paper.published, paper.year) == (authors, published, published.year)
    assert paper.venue == ""


def test_paper_listing_date_without_a_year_is_not_guessed(user):
    import_path(user, data_file("daily-papers-1.txt"))
    paper = Paper.objects.get(user=user, title__startswith="Rethinking Fine-Tuning when Scaling Test-Time Compute")
    assert (paper.author_count, paper.published, paper.year) == (5, None, None)
    papers = Paper.objects.for_user(user)
    assert not papers.exclude(venue="").exists()
    assert papers.filter(published__isnull=False).count() > 40


def test_reimporting_a_listing_moves_the_old_crammed_venue_into_its_fields(user):
    path = data_file("daily-papers-1.txt")
    import_path(user, path)
    papers = Paper.objects.for_user(user)
    # What the importer used to store before papers had these fields.
    papers.update(venue="6 authors, Jun 27, 2024", author_count=None, published=None, year=None)
    papers.filter(title="The Two-Pass Softmax Algorithm").update(venue="NeurIPS")
    report = import_path(user, path).as_dict()
    assert report["created"]["papers"] == 0
    itertl = papers.get(title__startswith="ITERTL")
    assert (itertl.venue, itertl.author_count, itertl.published) == ("", 6, date(2024, 6, 27))
    # A venue the user typed is not the crammed text and stays.
    assert papers.get(title="The Two-Pass Softmax Algorithm").venue == "NeurIPS"
    assert list(papers.exclude(venue="").values_list("title", flat=True)) == ["The Two-Pass Softmax Algorithm"]


def test_blog_feed_gives_one_note_per_article_with_title_and_author(user):
    report = import_path(user, data_file("blog-feed.txt")).as_dict()
    assert report["created"]["notes"] == 4
    note = Note.objects.get(user=user, title="Mono to Stereo: How AI Is Breathing New Life into Music")
    assert note.body.startswith("By Max Hilsdorf\n")
    assert "mono-to-stereo upmixing" in note.body


def test_pasted_text_imports_like_the_file(user):
    text = data_file("daily-papers-2.txt").read_bytes()
    report = import_bytes(user, "pasted text", text).as_dict()
    assert report["created"]["papers"] == 16


def test_migration_moves_crammed_venues_of_existing_rows_into_their_fields(user):
    split_venue = importlib.import_module("notes.migrations.0004_paper_venue_to_author_count_published").split_venue
    listed = Paper.objects.create(user=user, title="Listed", source_key="paper:1", venue="6 authors, Jun 27, 2024")
    undated = Paper.objects.create(user=user, title="Undated", source_key="paper:2", venue="5 authors, Feb 10")
    journal = Paper.objects.create(user=user, title="Journal", source_key="paper:3", venue="Nature")
    split_venue(django_apps, None)
    for paper in (listed, undated, journal):
        paper.refresh_from_db()
    assert (listed.venue, listed.author_count, listed.published, listed.year) == ("", 6, date(2024, 6, 27), 2024)
    assert (undated.venue, undated.author_count, undated.published) == ("", 5, None)
    assert journal.venue == "Nature"
