"""The whole shared data set, uploaded through the Import page, until every note and paper
is findable by meaning (real workers on `default`, `embed` and `index`). Prints the time
for the README: `pytest -s tests/test_import_findable.py`."""

import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from notes.models import Note, Paper
from search import services
from search.models import IndexedSource
from tests.waiting import wait_until

pytestmark = pytest.mark.worker

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
FILES = ["research-log.txt", "daily-papers-1.txt", "daily-papers-2.txt", "blog-feed.txt"]


def test_whole_data_set_is_findable_by_meaning_after_web_import(celery_worker, auth_client, user, settings):
    if not DATA.exists():
        pytest.skip(f"{DATA} is not on this machine")
    env = {"SEARCH_INDEX_DIR": settings.SEARCH_INDEX_DIR}
    celery_worker(queues=["default", "embed"], extra_env=env)
    celery_worker(queues=["index"], extra_env=env)
    started = time.monotonic()
    for name in FILES:
        upload = SimpleUploadedFile(name, (DATA / name).read_bytes())
        assert auth_client.post(reverse("exchange:import"), {"file": upload}).status_code == 302
    expected = 143 + 4 + 122 + 72 + 16

    def indexed() -> int:
        return IndexedSource.objects.filter(user=user, state=IndexedSource.INDEXED).count()

    wait_until(lambda: indexed() >= expected, 540, lambda: f"{indexed()} of {expected} indexed after 9 minutes")
    notes = list(Note.objects.filter(user=user))
    assert len(notes) == 147 and Paper.objects.filter(user=user).count() == 210
    assert all(services.note_index_state(n) == "indexed" for n in notes)
    elapsed = time.monotonic() - started
    print(f"\nimport of {len(FILES)} files ({len(notes)} notes, 210 papers): {elapsed:.1f}s from upload to "
          "every note and paper indexed for search by meaning")
    # Queries by meaning, in other words than the note's title.
    notes_only = services.SearchFilters(kinds=("note",))
    for query, expected_title in [
        ("upmixing old single-channel records to two channels", "Mono to Stereo: How AI Is Breathing New Life into Music"),
        ("finding the shortest round trip through cities with a solver",
         "How to Tackle an Optimization Problem with Constraint Programming"),
    ]:
        hits = services.search(user, query, mode="semantic", filters=notes_only, limit=10).hits
        assert expected_title in [h.title for h in hits], (query, [h.title for h in hits])
