"""Notion's "Markdown & CSV" export and vaults that link with Markdown links: the pages come in
under their own titles, with their properties, and links between them stay links between notes."""

from exchange.importers import import_bytes
from notes.models import Note
from tests.test_import_markdown import vault as zipped

READING_ID, CFG_ID, OTHER_ID = "5f3c9a0e1d2b4c6a8e7f9b1c3d5e7f90", "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "ffeeddccbbaa99887766554433221100"
ROOT = "Export-2b1e6c1a-7d0b-4d0e-9a37-5b0c1f3e9d11"
# Notion drops the colon a file name cannot hold: the title is the page's first line.
READING = f"""# Reading: diffusion papers

Created: March 4, 2024 3:12 PM
Tags: diffusion, guidance, deep learning
Status: Done

Notes on [Classifier-free guidance](Reading%20diffusion%20papers%20{READING_ID}/Classifier-free%20guidance%20{CFG_ID}.md) and the [paper](https://arxiv.org/abs/2207.12598).

![Untitled](Reading%20diffusion%20papers%20{READING_ID}/Untitled.png)
"""
CFG = f"""# Classifier-free guidance

Guidance trades diversity for fidelity. Back to [Reading: diffusion papers](../Reading%20diffusion%20papers%20{READING_ID}.md), see [nowhere](Missing%20page%20{OTHER_ID}.md).

```python
link = "[x](../Reading%20diffusion%20papers%20{READING_ID}.md)"
```
"""
FILES = {
    f"{ROOT}/Reading diffusion papers {READING_ID}.md": READING,
    f"{ROOT}/Reading diffusion papers {READING_ID}/Classifier-free guidance {CFG_ID}.md": CFG,
    f"{ROOT}/Reading diffusion papers {READING_ID}/Untitled.png": "\x89PNG",
    f"{ROOT}/Papers {OTHER_ID}.csv": "Name,Tags\nReading: diffusion papers,diffusion\n",
}


def test_a_notion_page_comes_in_under_its_title_with_its_properties(user):
    report = import_bytes(user, "Export.zip", zipped(FILES)).as_dict()
    assert report["created"]["notes"] == 2 and report["failed"] == []
    assert sorted(Note.objects.filter(user=user).values_list("title", flat=True)) == [
        "Classifier-free guidance", "Reading: diffusion papers"]
    reading = Note.objects.get(user=user, title="Reading: diffusion papers")
    assert not reading.body.startswith("#")  # the title line is the title, not shown twice
    assert sorted(reading.tag_names()) == ["deep-learning", "diffusion", "guidance"]
    assert reading.created.isoformat().startswith("2024-03-04T15:12")
    # A property the note has no field for stays readable in the text.
    assert reading.body.startswith("- Status: Done\n\nNotes on")
    assert "Tags:" not in reading.body and "Created:" not in reading.body


def test_links_between_notion_pages_become_links_between_the_notes(user, client):
    report = import_bytes(user, "Export.zip", zipped(FILES)).as_dict()
    reading = Note.objects.get(user=user, title="Reading: diffusion papers")
    cfg = Note.objects.get(user=user, title="Classifier-free guidance")
    assert "[[Classifier-free guidance]]" in reading.body
    assert "[[Reading: diffusion papers]]" in cfg.body
    assert list(cfg.backlinks()) == [reading] and list(reading.backlinks()) == [cfg]
    # A web link, a link to a page not in the export and code are left as they were.
    assert "[paper](https://arxiv.org/abs/2207.12598)" in reading.body
    assert f"[nowhere](Missing%20page%20{OTHER_ID}.md)" in cfg.body
    assert f'link = "[x](../Reading%20diffusion%20papers%20{READING_ID}.md)"' in cfg.body
    # The page's image is in the export: it is the note's file, shown where the page showed it.
    assert report["created"]["files"] == 1
    assert reading.attachments.get().name == f"Reading diffusion papers {READING_ID}/Untitled.png"
    client.force_login(user)
    page = client.get(reading.get_absolute_url()).content.decode()
    assert "Classifier-free guidance</a>" in page
    assert page.count("<h1") == 1  # the title, once
    assert f'<img src="/notes/{reading.pk}/files/Reading%20diffusion%20papers%20{READING_ID}/Untitled.png"' in page


def test_a_large_notion_export_split_into_zips_within_a_zip_comes_in_whole(user):
    part_1 = zipped({k: v for k, v in FILES.items() if "Classifier" not in k})
    part_2 = zipped({k: v for k, v in FILES.items() if "Classifier" in k})
    outer = zipped({f"{ROOT}-Part-1.zip": part_1, f"{ROOT}-Part-2.zip": part_2, "broken.zip": b"PK\x03\x04 not a zip"})
    report = import_bytes(user, "Export.zip", outer).as_dict()
    assert report["created"]["notes"] == 2
    assert report["failed"] == [{"item": "broken.zip", "reason": "not a valid zip file: skipped"}]
    reading = Note.objects.get(user=user, title="Reading: diffusion papers")
    assert list(reading.backlinks().values_list("title", flat=True)) == ["Classifier-free guidance"]
    # The same pages exported again, in one zip this time, update the notes they made.
    edited = dict(FILES, **{next(iter(FILES)): READING.replace("Notes on", "Read again:")})
    again = import_bytes(user, "Export.zip", zipped(edited)).as_dict()
    assert again["created"]["notes"] == 0 and Note.objects.filter(user=user).count() == 2
    assert "Read again:" in Note.objects.get(pk=reading.pk).body


def test_a_vault_that_links_with_markdown_links_keeps_its_links(user):
    files = {
        "Vault/Attention.md": "See [the cache](ops/KV%20cache.md#eviction), [[KV cache]] and [tips](<ops/KV cache.md>).",
        "Vault/ops/KV cache.md": "Back to [Attention](../Attention.md) and [a web page](https://example.org/a.md).",
    }
    import_bytes(user, "vault.zip", zipped(files))
    attention = Note.objects.get(user=user, title="Attention")
    cache = Note.objects.get(user=user, title="KV cache")
    assert attention.body == "See [[KV cache|the cache]], [[KV cache]] and [[KV cache|tips]]."
    assert cache.body == "Back to [[Attention]] and [a web page](https://example.org/a.md)."
    assert list(cache.backlinks()) == [attention] and list(attention.backlinks()) == [cache]


def test_a_file_named_like_a_notion_page_without_a_title_line_keeps_its_text(user):
    import_bytes(user, "vault.zip", zipped({f"Loose {OTHER_ID}.md": "Created: yesterday\n\nJust text."}))
    note = Note.objects.get(user=user)
    assert note.title == "Loose" and note.body == "Created: yesterday\n\nJust text."
