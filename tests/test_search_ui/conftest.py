"""Notes indexed through the real pipeline (the embedding model, passages, vectors in the database),
called directly rather than through a worker so each test sees its notes findable at once."""

import pytest

from notes.models import Note
from search.indexing import index_note


@pytest.fixture
def write_note(db):
    def write(user, title, body, *, tags=(), paper=None, indexed=True):
        note = Note.objects.create_note(user, title=title, body=body, tags=tags, paper=paper)
        if indexed:
            assert index_note(note.pk) == "indexed"
        return note

    return write


@pytest.fixture
def htmx_get():
    def get(client, url, data=None, target="search-results"):
        """A GET as htmx sends it from an element whose swap target has the id `target`."""
        return client.get(url, data, HTTP_HX_REQUEST="true", HTTP_HX_TARGET=target)

    return get
