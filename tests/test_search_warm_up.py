"""A user whose index has no usable snapshot (first search after a restart with the files
gone or damaged): the search answers at once by words and says meaning search is warming
up; the index writer (a real worker on the `index` queue) builds the snapshot, and the
next search finds by meaning again. No request builds a large index from the database."""

import time

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory

from search import hnsw, services
from search.hnsw import files
from tests.search_fixtures import QUERIES, index_notes, semantic_results
from tests.waiting import wait_until

pytestmark = [pytest.mark.worker]


def warming_notice(user, page) -> str:
    request = RequestFactory().get("/search/")
    request.user = user
    return render_to_string("search/_meaning_warming_up.html", {"found": page}, request=request)


def test_without_a_snapshot_search_answers_by_words_at_once_and_the_index_writer_builds_it(user, auth_client, settings, celery_worker):
    notes = index_notes(user)
    expected = semantic_results(user)
    settings.SEARCH_REQUEST_BUILD_MAX_VECTORS = 0  # as with a lab-sized collection
    files.remove(user.pk, hnsw.get_index(user.pk).model)
    hnsw.forget()  # a restarted web process

    started = time.perf_counter()
    page = services.search(user, "sourdough fridge", mode="hybrid")
    assert time.perf_counter() - started < 1.0
    assert [h.note_id for h in page.hits] == [notes[1].pk]  # by words
    assert "Meaning search is warming up" in warming_notice(user, page)
    keyword_page = services.search(user, "sourdough fridge", mode="keyword")
    assert "warming up" not in warming_notice(user, keyword_page)  # nothing promised for a keyword search
    html = auth_client.get("/search/", {"q": "sourdough fridge", "mode": "hybrid"}).content.decode()
    assert "Meaning search is warming up" in html and notes[1].title in html  # what the user sees

    # The index writer starts only now: the snapshot the searches asked for waits in its queue.
    celery_worker(queues=["index"], extra_env={"SEARCH_INDEX_DIR": settings.SEARCH_INDEX_DIR})

    wait_until(lambda: hnsw.manifest_path(user.pk).exists(), 60, "the index writer wrote no snapshot")
    assert semantic_results(user) == expected
    assert hnsw.get_index(user.pk).loaded_from == "snapshot"
    page = services.search(user, QUERIES["Bread"], mode="hybrid")
    assert "warming up" not in warming_notice(user, page)
