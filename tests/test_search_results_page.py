"""The results page (/search/) after the work to make it cheap: its filters stay fresh, nothing
kept for one user reaches another, a question asked again is neither embedded nor ranked
again yet shows what is true now, and htmx gets only the part it swaps."""

import re
import socket
import time
from array import array
from unittest import mock

import numpy as np
import pytest
from django.urls import reverse

from lablog.redis_clients import redis_client
from notes.models import Note, Paper
from search import embedding, hnsw, kept_rankings, keyword, query_vectors, services
from search.hnsw import files
from search.indexing import index_note, index_note_text

URL = reverse("search:results")


@pytest.fixture
def write_note(db):
    def write(user, title, body, *, tags=()):
        note = Note.objects.create_note(user, title=title, body=body, tags=tags)
        assert index_note(note.pk) == "indexed"
        return note

    return write


def tag_options(response) -> list[str]:
    select = re.search(r'<select name="tag"[^>]*>(.*?)</select>', response.content.decode(), re.S)
    return re.findall(r'<option value="([^"]*)"', select.group(1))


def hit_titles(response) -> list[str]:
    return re.findall(r'class="hit-title" href="[^"]*">([^<]*)</a>', response.content.decode())


def test_a_new_tag_is_in_the_tag_filter_at_the_next_page(auth_client, user, write_note):
    write_note(user, "Diffusion guidance", "Classifier-free guidance trades diversity for fidelity.", tags=["ml"])
    assert tag_options(auth_client.get(URL, {"q": "guidance"})) == ["", "ml"]

    write_note(user, "Sourdough", "A long cold proof overnight.", tags=["baking"])
    response = auth_client.get(URL, {"q": "guidance"})
    assert tag_options(response) == ["", "baking", "ml"]
    # and it filters at once, shown as the chosen one
    filtered = auth_client.get(URL, {"q": "proof", "tag": "baking", "mode": "keyword"})
    assert hit_titles(filtered) == ["Sourdough"]
    assert '<option value="baking" selected>' in filtered.content.decode()
    assert '<option value="" selected>' in response.content.decode()  # no tag chosen: "Any tag"


def test_a_new_paper_can_be_chosen_in_the_paper_filter_at_once(auth_client, user, write_note):
    write_note(user, "Diffusion guidance", "Classifier-free guidance trades diversity for fidelity.")
    paper = Paper.objects.create(user=user, title="Guidance Without Classifiers", abstract="A paper on guidance.")
    suggestions = auth_client.get(reverse("notes:paper_suggest"), {"paper": "Guidance Without"}).content.decode()
    assert paper.title in suggestions
    response = auth_client.get(URL, {"q": "guidance", "paper": paper.title})
    assert "No paper titled" not in response.content.decode()
    assert f'value="{paper.title}"' in response.content.decode()


def test_one_users_tags_never_show_in_anothers_filter(auth_client, other_client, user, other_user, write_note):
    write_note(user, "Mine", "guidance notes", tags=["mine-only"])
    write_note(other_user, "Theirs", "guidance notes too", tags=["theirs-only"])
    for _ in range(2):  # also once the pages were served before
        assert tag_options(auth_client.get(URL, {"q": "guidance"})) == ["", "mine-only"]
        assert tag_options(other_client.get(URL, {"q": "guidance"})) == ["", "theirs-only"]


def test_a_query_vector_is_kept_per_user_only(auth_client, other_client, user, other_user, write_note, settings):
    """Asking again (the full page after the dropdown, the next page, a filter changed) reuses
    the query's vector; another user asking the same thing gets no faster answer from it and
    only their own hits."""
    write_note(user, "Sourdough starter", "Feed the starter with rye flour every twelve hours.")
    write_note(other_user, "Mallory's bread", "Rye sourdough starter fed twice a day.")
    real = embedding.embed_query
    settings.SEARCH_RANKINGS_KEPT = 0  # ranked again each time: the vector is what is kept
    with mock.patch.object(embedding, "embed_query", side_effect=real) as embed_query:
        first = auth_client.get(URL, {"q": "feeding a bread starter"})
        auth_client.get(URL, {"q": "feeding a bread starter"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="search-dropdown")
        auth_client.get(URL, {"q": "feeding a bread starter", "page": 2})
        assert embed_query.call_count == 1
        theirs = other_client.get(URL, {"q": "feeding a bread starter"})
        assert embed_query.call_count == 2
    assert hit_titles(first) == ["Sourdough starter"]
    assert hit_titles(theirs) == ["Mallory&#x27;s bread"]


def test_a_question_asked_on_one_web_process_is_not_embedded_again_on_another(auth_client, user, write_note):
    """The full page after the dropdown, or the next page, may land on another of the server's
    processes: the vector is kept in Redis for them."""
    write_note(user, "Sourdough starter", "Feed the starter with rye flour every twelve hours.")
    real = embedding.embed_query
    with mock.patch.object(embedding, "embed_query", side_effect=real) as embed_query:
        first = auth_client.get(URL, {"q": "feeding a bread starter"})
        query_vectors._kept.cache_clear()  # the other process has nothing of its own
        kept_rankings.forget()  # nor any ranking, its own or shared: it ranks, with the shared vector
        again = auth_client.get(URL, {"q": "feeding a bread starter"})
    assert embed_query.call_count == 1
    assert hit_titles(first) == hit_titles(again) == ["Sourdough starter"]


def test_redis_holds_one_bounded_key_per_user_whatever_the_number_of_questions():
    """Every page looks up the workers' heartbeats by a key pattern (SCAN): keys per question
    would make every page slower as questions pile up, and Redis's memory would grow."""
    vector = np.zeros(384, dtype=np.float32)
    with mock.patch.object(embedding, "embed_query", return_value=vector):
        for member in (1, 2):
            for question in range(query_vectors.SHARED_PER_USER + 10):
                query_vectors.query_vector(member, "the-model", f"question {question}")
                kept_rankings.keep((member, f"question {question}"), {"keyword": [(question, 1.0)] * 50})
    client = redis_client()
    for kind, kept in (("query-vectors", query_vectors), ("search-rankings", kept_rankings)):
        keys = sorted(client.scan_iter(match=f"lablog:{kind}:*"))
        assert keys == [f"lablog:{kind}:1".encode(), f"lablog:{kind}:2".encode()]
        assert all(0 < client.hlen(key) <= kept.SHARED_PER_USER for key in keys)
        assert 0 < client.ttl(keys[0]) <= kept.SHARED_SECONDS


def test_one_process_keeps_a_labs_recent_questions_even_without_redis(settings):
    """One web process serves a whole lab: 21 members asking 100 questions each, round after
    round, embed each question once (a cache sized for one researcher kept none of them)."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    vector = np.zeros(384, dtype=np.float32)
    with mock.patch.object(embedding, "embed_query", return_value=vector) as embed_query:
        for _ in range(2):
            for question in range(100):
                for member in range(21):
                    query_vectors.query_vector(member, "the-model", f"question {question}")
    assert embed_query.call_count == 21 * 100


def test_searches_find_by_meaning_while_redis_is_down(auth_client, user, write_note, settings):
    write_note(user, "Sourdough starter", "Feed the starter with rye flour every twelve hours.")
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = auth_client.get(URL, {"q": "feeding a bread starter", "mode": "semantic"})
    assert hit_titles(response) == ["Sourdough starter"]


def test_a_redis_that_does_not_answer_does_not_make_every_search_wait(settings):
    """A hung Redis (it takes connections, never answers) costs one short timeout, then is
    left alone for a while: new questions are embedded at once."""
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)  # never accepted: the kernel completes the connections, nobody answers
        settings.REDIS_URL = f"redis://127.0.0.1:{hung.getsockname()[1]}/0"
        vector = np.zeros(384, dtype=np.float32)
        with mock.patch.object(embedding, "embed_query", return_value=vector):
            started = time.monotonic()
            for question in range(5):
                query_vectors.query_vector(1, "the-model", f"question {question}")
            took = time.monotonic() - started
    # Asked every time, a get and a set of each question would wait 10 timeouts (>= 1 s).
    assert took < 0.5


QUESTION = "feeding a bread starter"


@pytest.fixture
def ranked():
    """Counts the keyword rankings searches make."""
    with mock.patch.object(keyword, "search_passages", side_effect=keyword.search_passages) as search_passages:
        yield search_passages


def test_the_next_page_a_filter_and_the_dropdown_reuse_the_questions_ranking(auth_client, user, write_note, ranked):
    write_note(user, "Sourdough starter", "Feed the starter with rye flour every twelve hours.", tags=["baking"])
    write_note(user, "Diffusion guidance", "Classifier-free guidance trades diversity for fidelity.", tags=["ml"])
    first = auth_client.get(URL, {"q": QUESTION})
    auth_client.get(URL, {"q": QUESTION, "page": 2})
    filtered = auth_client.get(URL, {"q": QUESTION, "tag": "baking"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="search-results")
    auth_client.get(URL, {"q": QUESTION}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="search-dropdown")
    other_tag = auth_client.get(URL, {"q": QUESTION, "tag": "ml"})
    assert ranked.call_count == 1
    assert hit_titles(first)[0] == "Sourdough starter"
    assert hit_titles(filtered) == ["Sourdough starter"]
    assert hit_titles(other_tag) == ["Diffusion guidance"]  # the filter still applies


def test_a_note_saved_since_is_found_when_the_question_is_asked_again(user, write_note, ranked):
    write_note(user, "Sourdough starter", "Feed the starter with rye flour every twelve hours.")
    assert [h.title for h in services.search(user, "rye flour hydration").hits] == ["Sourdough starter"]
    note = Note.objects.create_note(user, title="Hydration", body="Rye flour drinks more water: 80% hydration.")
    index_note_text(note.pk)  # what a save does, for keyword search at once
    assert {h.title for h in services.search(user, "rye flour hydration").hits} == {"Hydration", "Sourdough starter"}
    assert ranked.call_count == 2


def test_a_note_deleted_or_retagged_since_shows_as_it_is_now(user, write_note, ranked):
    kept = write_note(user, "Sourdough starter", "Feed the starter with rye flour every twelve hours.", tags=["baking"])
    gone = write_note(user, "Rye starter", "A rye starter fed with rye flour.")
    assert {h.title for h in services.search(user, "rye flour starter").hits} == {"Sourdough starter", "Rye starter"}
    kept.set_tags(["bread"])
    Note.objects.filter(pk=gone.pk).delete()  # its passages go with it, before any worker runs
    page = services.search(user, "rye flour starter")
    assert [(h.title, h.tags) for h in page.hits] == [("Sourdough starter", ["bread"])]
    assert services.search(user, "rye flour starter", filters=services.SearchFilters(tag="baking")).hits == []
    assert ranked.call_count == 1


def test_another_users_same_question_is_ranked_for_them_alone(user, other_user, write_note, ranked):
    write_note(user, "Sourdough starter", "Feed the starter with rye flour every twelve hours.")
    write_note(other_user, "Mallory's bread", "Rye sourdough starter fed twice a day.")
    assert [h.title for h in services.search(user, QUESTION).hits] == ["Sourdough starter"]
    assert [h.title for h in services.search(other_user, QUESTION).hits] == ["Mallory's bread"]
    assert ranked.call_count == 2


def test_a_question_ranked_on_one_web_process_is_not_ranked_again_on_another(auth_client, user, write_note, ranked):
    """Its rankings are kept in Redis too, for the user's next request on any process."""
    write_note(user, "Sourdough starter", "Feed the starter with rye flour every twelve hours.", tags=["baking"])
    write_note(user, "Rye bread", "A rye loaf from the same starter, baked at 230 degrees.", tags=["bread"])
    first = auth_client.get(URL, {"q": QUESTION})
    query_vectors._kept.cache_clear()  # another process: nothing of its own
    kept_rankings.forget_here()
    again = auth_client.get(URL, {"q": QUESTION})
    kept_rankings.forget_here()
    filtered = auth_client.get(URL, {"q": QUESTION, "tag": "bread"})
    assert ranked.call_count == 1
    assert hit_titles(first) == hit_titles(again) and set(hit_titles(first)) == {"Sourdough starter", "Rye bread"}
    assert hit_titles(filtered) == ["Rye bread"]


def test_a_ranking_shared_by_another_process_is_not_used_once_the_users_passages_changed(user, write_note, ranked):
    write_note(user, "Sourdough starter", "Feed the starter with rye flour every twelve hours.")
    assert [h.title for h in services.search(user, "rye flour hydration").hits] == ["Sourdough starter"]
    note = Note.objects.create_note(user, title="Hydration", body="Rye flour drinks more water: 80% hydration.")
    index_note_text(note.pk)  # what a save does, for keyword search at once
    kept_rankings.forget_here()  # the next search lands on another process: only Redis has the old ranking
    assert {h.title for h in services.search(user, "rye flour hydration").hits} == {"Hydration", "Sourdough starter"}
    assert ranked.call_count == 2


def test_a_shared_ranking_reads_back_exactly_and_anything_else_is_ranked_again():
    rankings = {"keyword": [(7, 3.25), (2, 1e-300)], "semantic": [(9, 0.8125)], "none": []}
    packed = {name: (array("q", [pk for pk, _ in r]), array("d", [s for _, s in r])) for name, r in rankings.items()}
    assert kept_rankings._from_bytes(kept_rankings._to_bytes(packed)) == packed
    kept_rankings.keep((1, "question"), rankings)
    kept_rankings.forget_here()
    assert kept_rankings.get((1, "question")) == rankings
    assert kept_rankings.get((2, "question")) is None  # another user's
    for garbage in (b"\x07ke", b"\x01\x05\x00\x00\x00k\x01", b"\xff" * 40):
        assert kept_rankings._from_bytes(garbage) is None


def test_meaning_search_answers_once_warmed_up_though_the_question_was_asked_before(user, write_note, settings):
    write_note(user, "Sourdough starter", "Feed the starter with rye flour every twelve hours.")
    files.remove(user.pk, hnsw.get_index(user.pk).model)
    settings.SEARCH_REQUEST_BUILD_MAX_VECTORS = 0  # as with a lab-sized collection
    hnsw.forget()  # a restarted web process, and no snapshot to load
    question = "nourishing a levain culture"  # no word of the note's
    assert services.search(user, question, mode="semantic").hits == []  # by words, meanwhile
    hnsw.write_snapshot(user.pk)  # what the index writer does
    assert [h.title for h in services.search(user, question, mode="semantic").hits] == ["Sourdough starter"]


def test_a_search_reads_the_users_index_position_once(user, write_note):
    """The position keys the kept rankings and catches the index up: one read serves both."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    write_note(user, "Sourdough starter", "Feed the starter with rye flour every twelve hours.")
    services.search(user, "starter")  # the index is loaded (that reads what it needs)
    for question in ("rye flour", "rye flour"):  # ranked, then kept
        with CaptureQueriesContext(connection) as queries:
            assert services.search(user, question).hits
        assert sum('FROM "search_userindexstate"' in q["sql"] for q in queries.captured_queries) == 1


def test_a_process_keeps_the_rankings_of_its_recent_questions_within_the_setting(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there: this process's own alone
    settings.SEARCH_RANKINGS_KEPT = 3
    for question in range(5):
        kept_rankings.keep((1, f"question {question}"), {"keyword": [(question, 1.5)]})
    assert kept_rankings.get((1, "question 1")) is None
    assert kept_rankings.get((1, "question 4")) == {"keyword": [(4, 1.5)]}
    settings.SEARCH_RANKINGS_KEPT = 0
    kept_rankings.keep((1, "question 5"), {"keyword": [(5, 1.0)]})
    assert kept_rankings.get((1, "question 5")) is None


def test_a_kept_vector_cannot_be_changed_by_a_search(user, write_note):
    write_note(user, "Sourdough starter", "Feed the starter with rye flour every twelve hours.")
    services.search(user, "bread starter", mode="semantic")
    vector = query_vectors.query_vector(user.pk, embedding.active_model(user.pk), "bread starter")
    with pytest.raises(ValueError):
        vector[0] = 1.0


def test_htmx_gets_only_the_results_and_a_link_or_reload_the_whole_page(auth_client, user, write_note):
    write_note(user, "Diffusion guidance", "Classifier-free guidance trades diversity for fidelity.", tags=["ml"])
    page = auth_client.get(URL, {"q": "guidance"}).content.decode()
    assert "<html" in page and 'class="search-filters"' in page and '<div id="search-results">' in page
    assert 'name="tag"' in page and "Diffusion guidance" in page

    for target in ("search-results", "search-dropdown"):
        fragment = auth_client.get(URL, {"q": "guidance"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET=target).content.decode()
        assert "<html" not in fragment and 'class="search-filters"' not in fragment and 'name="tag"' not in fragment
        assert fragment.lstrip().startswith('<div class="search-results">')
        assert "Diffusion guidance" in fragment and "<mark>guidance</mark>" in fragment
    assert "All 1 result" in fragment  # the dropdown links to the full page


def checked_inputs(response, name: str) -> list[str]:
    """The filter form's checked inputs (the header's search box has mode inputs too, without ids)."""
    return re.findall(rf'<input type="(?:radio|checkbox)" name="{name}" value="([^"]*)" id="id_{name}_\d" checked', response.content.decode())


def test_mode_and_kind_inputs_show_what_the_url_asks_for(auth_client, user, write_note):
    """The mode and "In" inputs and the query and date boxes are written by the template (the
    form's widgets cost a template per input): they still show the URL's choices, escape what
    was typed and mark what is refused, as the widgets did."""
    write_note(user, "Diffusion guidance", "Classifier-free guidance trades diversity for fidelity.")
    plain = auth_client.get(URL, {"q": "guidance"})
    assert checked_inputs(plain, "mode") == ["hybrid"]
    assert checked_inputs(plain, "kind") == ["note", "paper", "snippet", "run"]
    assert "aria-invalid" not in plain.content.decode()

    chosen = auth_client.get(URL, {"q": 'a"<b', "mode": "semantic", "kind": ["note", "run"], "from": "2024-01-02"})
    html = chosen.content.decode()
    assert checked_inputs(chosen, "mode") == ["semantic"]
    assert checked_inputs(chosen, "kind") == ["note", "run"]
    assert '<input type="search" name="q" value="a&quot;&lt;b" id="id_q">' in html
    assert '<input type="date" name="from" value="2024-01-02" id="id_from">' in html
    assert '<input type="date" name="to" id="id_to">' in html

    refused_page = auth_client.get(URL, {"q": "guidance", "mode": "bogus", "kind": "nothing", "to": "2024-13-01"})
    assert checked_inputs(refused_page, "mode") == [] and checked_inputs(refused_page, "kind") == []
    assert "Diffusion guidance" in hit_titles(refused_page)  # refused filters narrow nothing
    refused = refused_page.content.decode()
    assert 'value="hybrid" id="id_mode_0" aria-invalid="true">' in refused
    assert 'value="run" id="id_kind_3" aria-invalid="true">' in refused
    assert 'value="2024-13-01" aria-invalid="true" aria-describedby="id_to_error" id="id_to">' in refused


def test_a_paper_found_with_its_notes_costs_no_extra_query(user, write_note):
    """Found notes go beneath their found paper from what the candidates' read brings along
    (the note's paper, on the join the owner check makes): no second read of the notes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from search.indexing import index_paper

    paper = Paper.objects.create(user=user, title="Classifier-Free Diffusion Guidance", abstract="Guidance without a classifier.")
    assert index_paper(paper.pk) == "indexed"
    note = Note.objects.create_note(user, title="Guidance sweep", body="Swept the classifier-free guidance scale.", tags=["ml"])
    Note.objects.filter(pk=note.pk).update(paper=paper)
    assert index_note(note.pk) == "indexed"
    write_note(user, "Sourdough", "A long cold proof overnight.")
    with CaptureQueriesContext(connection) as queries:
        page = services.search(user, "classifier-free guidance", mode="keyword")
    assert [(hit.kind, [note.title for note in hit.notes]) for hit in page.hits] == [("paper", ["Guidance sweep"])]
    assert not [q["sql"] for q in queries.captured_queries if ' FROM "notes_note" ' in q["sql"]]


def test_a_hits_tags_link_to_their_filter_and_its_date_shows_in_the_sites_time_zone(auth_client, user, write_note, settings):
    settings.TIME_ZONE = "Pacific/Auckland"  # a day ahead of UTC in the evening
    note = write_note(user, "Guidance notes", "Classifier-free guidance trades diversity for fidelity.",
                      tags=['a&b "c"', "ml/vision"])
    Note.objects.filter(pk=note.pk).update(created="2026-03-01T20:00:00Z")
    page = auth_client.get(URL, {"q": "guidance", "mode": "keyword"}).content.decode()
    meta = re.search(r'<p class="hit-meta">(.*?)</p>', page, re.S).group(1)
    links = re.findall(r'<a class="tag" href="([^"]*)">([^<]*)</a>', meta)
    # what a tag link opens: this search, filtered by that tag
    assert [(href.rsplit("tag=", 1)[1], text) for href, text in links] == [
        ("a%26b%20%22c%22", "#a&amp;b &quot;c&quot;"), ("ml%2Fvision", "#ml/vision")]
    assert all(href.startswith(URL + "?q=guidance&amp;mode=keyword") for href, _ in links)
    filtered = auth_client.get(links[0][0].replace("&amp;", "&"))
    assert hit_titles(filtered) == ["Guidance notes"]
    assert '<time datetime="2026-03-02T09:00:00+13:00">2026-03-02</time>' in meta
