"""Markdown files, folders and zipped vaults: front matter, tags, wiki-links, images."""

import io
import zipfile

from exchange.importers import import_bytes, import_path
from notes.models import Note

ATTENTION = """---
title: Attention notes
tags: [transformers, reading]
date: 2023-05-04
aliases: [attn]
---
# Attention

Scaled dot product, see [[kv-cache]] and [[kv-cache|the cache note]]. #inference

![diagram](images/attention.png) and ![remote](https://example.org/x.png)
```python
x = "#notatag"
```
"""
KV_CACHE = """Keys and values are kept between steps. Back to [[attn]] and [[Missing note]]."""


def vault(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_front_matter_gives_title_tags_and_date(user):
    report = import_bytes(user, "attention.md", ATTENTION.encode()).as_dict()
    assert report["created"]["notes"] == 1
    note = Note.objects.get(user=user)
    assert note.title == "Attention notes"
    assert sorted(note.tag_names()) == ["inference", "reading", "transformers"]
    assert note.created.date().isoformat() == "2023-05-04"
    assert not note.body.startswith("---")


def test_a_daily_note_without_a_date_of_its_own_is_dated_by_its_file_name(user):
    files = {"Daily/2024/2024-03-04.md": b"Swept guidance 0..4.", "Daily/2024-13-45.md": b"Not a date.",
             "Dated.md": b"---\ndate: 2022-01-02\n---\nFront matter wins.", "2021-06-07.md": b"---\ndate: 2020-01-01\n---\nx"}
    import_bytes(user, "vault.zip", vault(files))
    dates = {n.title: n.created.date().isoformat() for n in Note.objects.filter(user=user)}
    assert dates["2024-03-04"] == "2024-03-04" and dates["Dated"] == "2022-01-02" and dates["2021-06-07"] == "2020-01-01"
    assert dates["2024-13-45"] == Note.objects.get(user=user, title="2024-13-45").updated.date().isoformat()  # today


def test_wiki_links_between_vault_files_point_at_the_imported_notes(user):
    data = vault({"Vault/attention.md": ATTENTION.encode(), "Vault/ops/kv-cache.md": KV_CACHE.encode()})
    report = import_bytes(user, "vault.zip", data).as_dict()
    assert report["created"]["notes"] == 2 and report["failed"] == []
    attention = Note.objects.get(user=user, title="Attention notes")
    kv = Note.objects.get(user=user, title="kv-cache")
    # [[kv-cache]] and the alias [[attn]] resolve to the notes, so backlinks work both ways.
    assert list(kv.backlinks()) == [attention]
    assert list(attention.backlinks()) == [kv]
    assert "[[Attention notes|attn]]" in kv.body
    assert "[[kv-cache|the cache note]]" in attention.body
    # A relative image is noted in the report; a web image is not.
    messages = [n["message"] for n in report["notices"]]
    assert any("images/attention.png" in m for m in messages)
    assert not any("example.org" in m for m in messages)


def test_reimporting_a_vault_updates_the_same_notes(user):
    data = vault({"attention.md": ATTENTION.encode(), "kv-cache.md": KV_CACHE.encode()})
    import_bytes(user, "vault.zip", data)
    changed = vault({"attention.md": ATTENTION.replace("Scaled", "Scaled (edited)").encode(),
                     "kv-cache.md": KV_CACHE.encode()})
    report = import_bytes(user, "vault.zip", changed).as_dict()
    assert report["updated"]["notes"] == 2 and report["created"]["notes"] == 0
    note = Note.objects.get(user=user, title="Attention notes")
    assert "Scaled (edited)" in note.body
    assert note.version == 2 and note.revisions.count() == 1


def test_folder_import_reads_markdown_and_bibtex_files(user, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "attention.md").write_text(ATTENTION)
    (tmp_path / "refs.bib").write_text("@article{vaswani2017, title={Attention Is All You Need}, year=2017}")
    (tmp_path / ".obsidian").mkdir()
    (tmp_path / ".obsidian" / "workspace.md").write_text("app state, not a note")
    report = import_path(user, tmp_path).as_dict()
    assert report["created"] == {"notes": 1, "papers": 1, "snippets": 0, "runs": 0, "files": 0}
