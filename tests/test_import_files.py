"""Importing the real data files: counts, paper links, and importing twice."""

from pathlib import Path

import pytest

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
    assert report["created"] == {"notes": 0, "papers": 0, "snippets": 0}
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


def test_paper_listing_keeps_author_count_and_date(user):
    import_path(user, data_file("daily-papers-1.txt"))
    paper = Paper.objects.get(user=user, title="ITERTL: An Iterative Framework for Fine-tuning LLMs for RTL Code Generation")
    assert paper.year == 2024
    assert paper.venue == "6 authors, Jun 27, 2024"


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
