"""Markdown notes with a `## Snippets` section (as Lablog's export writes it): the section
becomes the note's snippets, and importing the vault again makes them exactly what the
files list now."""

import io
import zipfile

from exchange.exporters import note_markdown
from exchange.importers import import_bytes
from notes.models import Note, Snippet
from search import services

NOTE = """---
title: Attention notes
---
Scaled dot product.

## Snippets

> Attention is all you need
> — p. 1

```python
softmax(q @ k.T)
```

The core of it.

$$
\\sqrt{d_k}
$$
"""
# The quote's locator changed, the code's comment changed, the equation is gone, a link is new.
NOTE_EDITED = """---
title: Attention notes
---
Scaled dot product, edited.

## Snippets

> Attention is all you need
> — p. 2

```python
softmax(q @ k.T)
```

The core of it, scaled.

<https://example.org/kv-cache> Keeping keys and values between decoding steps
"""


def vault(note_text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("Vault/attention.md", note_text)
    return buffer.getvalue()


def snippets_of(user) -> list[tuple]:
    note = Note.objects.get(user=user, title="Attention notes")
    return [(s.kind, s.text, s.locator, s.language, s.url, s.comment) for s in note.snippets.all()]


def test_snippets_section_becomes_the_notes_snippets_and_leaves_the_body(user):
    report = import_bytes(user, "vault.zip", vault(NOTE)).as_dict()
    assert report["created"] == {"notes": 1, "papers": 0, "snippets": 3, "runs": 0, "files": 0} and report["failed"] == []
    assert snippets_of(user) == [
        ("quote", "Attention is all you need", "p. 1", "", "", ""),
        ("code", "softmax(q @ k.T)", "", "python", "", "The core of it."),
        ("equation", "\\sqrt{d_k}", "", "", "", ""),
    ]
    assert Note.objects.get(user=user).body == "Scaled dot product."


def test_reimporting_a_changed_vault_gives_exactly_the_snippets_a_first_import_gives(user, other_user):
    import_bytes(user, "vault.zip", vault(NOTE))
    report = import_bytes(user, "vault.zip", vault(NOTE_EDITED)).as_dict()
    assert report["failed"] == [] and report["created"]["notes"] == 0
    expected = [
        ("quote", "Attention is all you need", "p. 2", "", "", ""),
        ("code", "softmax(q @ k.T)", "", "python", "", "The core of it, scaled."),
        ("link", "Keeping keys and values between decoding steps", "", "", "https://example.org/kv-cache", ""),
    ]
    assert snippets_of(user) == expected
    import_bytes(other_user, "vault.zip", vault(NOTE_EDITED))
    assert snippets_of(other_user) == expected
    # The body edit is a normal edit: the text before it is kept as a revision.
    note = Note.objects.get(user=user)
    assert note.body == "Scaled dot product, edited." and [r.body for r in note.revisions.all()] == ["Scaled dot product."]


def test_reimporting_the_same_vault_changes_nothing(user):
    import_bytes(user, "vault.zip", vault(NOTE))
    before = snippets_of(user)
    again = import_bytes(user, "vault.zip", vault(NOTE)).as_dict()
    assert again["created"]["snippets"] == 0 and again["updated"]["snippets"] == 3
    assert snippets_of(user) == before and Note.objects.get(user=user).version == 1


def test_snippets_added_by_hand_survive_a_reimport(user):
    import_bytes(user, "vault.zip", vault(NOTE))
    note = Note.objects.get(user=user)
    Snippet.objects.create(note=note, kind="quote", text="My own quote")
    import_bytes(user, "vault.zip", vault(NOTE_EDITED))
    assert [s[1] for s in snippets_of(user)][-1] == "My own quote"
    assert len(snippets_of(user)) == 4


def test_search_forgets_removed_snippets_and_finds_new_ones_after_a_reimport(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        import_bytes(user, "vault.zip", vault(NOTE.replace("\\sqrt{d_k}", "quokka")))
    assert [h.kind for h in services.search(user, "quokka", mode="keyword").hits] == ["snippet"]
    with django_capture_on_commit_callbacks(execute=True):
        import_bytes(user, "vault.zip", vault(NOTE_EDITED))
    assert services.search(user, "quokka", mode="keyword").hits == []
    link = Snippet.objects.get(note__user=user, kind="link")
    assert [h.object_id for h in services.search(user, "decoding", mode="keyword").hits if h.kind == "snippet"] == [link.pk]


def test_exported_note_imports_back_with_the_same_snippets(user, other_user):
    note = Note.objects.create_note(user, title="Attention notes", body="Scaled dot product.")
    Snippet.objects.create(note=note, kind="quote", text="Line one\n\nLine three", locator="§2")
    Snippet.objects.create(note=note, kind="code", text="a = 1\n\nb = 2", language="python", comment="two\n\nparagraphs")
    Snippet.objects.create(note=note, kind="equation", text="E = mc^2")
    Snippet.objects.create(note=note, kind="link", url="https://example.org/a", text="", comment="see")
    import_bytes(other_user, "attention.md", note_markdown(note).encode())
    assert snippets_of(other_user) == snippets_of(user)
    assert Note.objects.get(user=other_user).body == "Scaled dot product."


def test_a_snippets_heading_over_ordinary_prose_stays_in_the_body(user):
    text = "Intro.\n\n## Snippets\n\nJust some prose I keep here.\n\n> a quote after it\n"
    import_bytes(user, "plain.md", text.encode())
    note = Note.objects.get(user=user)
    assert note.body == text.strip("\n") and note.snippets.count() == 0
