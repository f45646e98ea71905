"""Export downloads: the markdown vault, Lablog JSON, and a single note as markdown."""

import io
import json
import zipfile

import yaml
from django.urls import reverse

from exchange.importers import import_bytes
from notes.models import Note, Paper, Snippet


def library(user):
    paper = Paper.objects.create(user=user, title="Attention Is All You Need", authors="Ashish Vaswani\nNoam Shazeer",
                                 year=2017, arxiv_id="1706.03762", abstract="We propose the {Transformer}.")
    note = Note.objects.create_note(user, title="Attention: the idea", body="See [[KV cache]].", tags=["ml"], paper=paper)
    Note.objects.create_note(user, title="KV cache", body="Kept between steps.")
    Snippet.objects.create(note=note, kind="quote", text="Attention is all you need", locator="p. 1")
    Snippet.objects.create(note=note, kind="code", text="print(1)", language="python")
    return note


def front_matter(text: str) -> dict:
    _, meta, _ = text.split("---\n", 2)
    return yaml.safe_load(meta)


def test_markdown_vault_has_a_file_per_note_with_front_matter_and_papers_bib(auth_client, user):
    library(user)
    response = auth_client.get(reverse("exchange:export_markdown"))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == ["notes/Attention the idea.md", "notes/KV cache.md", "papers.bib"]
    text = archive.read("notes/Attention the idea.md").decode()
    meta = front_matter(text)
    assert meta["title"] == "Attention: the idea" and meta["tags"] == ["ml"] and meta["arxiv"] == "1706.03762"
    assert "See [[KV cache]]." in text
    assert "> Attention is all you need\n> — p. 1" in text and "```python\nprint(1)\n```" in text
    assert "@misc{arxiv1706_03762," in archive.read("papers.bib").decode()


def test_markdown_vault_imports_back_with_links_and_papers(auth_client, user, other_user):
    library(user)
    data = auth_client.get(reverse("exchange:export_markdown")).content
    report = import_bytes(other_user, "vault.zip", data).as_dict()
    assert report["created"] == {"notes": 2, "papers": 1, "snippets": 2, "runs": 0, "files": 0} and report["failed"] == []
    paper = Paper.objects.get(user=other_user)
    assert (paper.title, paper.arxiv_id, paper.year, paper.author_list, paper.abstract) == (
        "Attention Is All You Need", "1706.03762", 2017, ["Ashish Vaswani", "Noam Shazeer"], "We propose the {Transformer}."
    )
    cache = Note.objects.get(user=other_user, title="KV cache")
    assert [n.title for n in cache.backlinks()] == ["Attention: the idea"]
    attention = Note.objects.get(user=other_user, title="Attention: the idea")
    assert attention.paper == paper
    assert [(s.kind, s.text, s.locator, s.language) for s in attention.snippets.all()] == [
        ("quote", "Attention is all you need", "p. 1", ""), ("code", "print(1)", "", "python"),
    ]


def test_json_download_is_the_lablog_export(auth_client, user):
    library(user)
    response = auth_client.get(reverse("exchange:export_json"))
    data = json.loads(response.content)
    assert data["format"] == "lablog" and len(data["notes"]) == 2 and len(data["papers"]) == 1
    assert "attachment" in response["Content-Disposition"]


def test_single_note_downloads_as_markdown_from_its_page(auth_client, user):
    note = library(user)
    url = reverse("exchange:note_markdown", args=[note.pk])
    assert url in auth_client.get(note.get_absolute_url()).content.decode()
    response = auth_client.get(url)
    assert response.status_code == 200
    assert 'filename="Attention the idea.md"' in response["Content-Disposition"]
    text = response.content.decode()
    assert front_matter(text)["title"] == "Attention: the idea"
    assert "## Paper\n\nAttention Is All You Need [@arxiv1706_03762]" in text


def test_another_users_note_is_not_exported(client, user, other_user):
    note = library(user)
    client.force_login(other_user)
    assert client.get(reverse("exchange:note_markdown", args=[note.pk])).status_code == 404
    exported = json.loads(client.get(reverse("exchange:export_json")).content)
    assert exported["notes"] == [] and exported["papers"] == []
