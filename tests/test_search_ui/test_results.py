"""The search box's live results and the full results page (/search/), against the real search service."""

import datetime as dt
import html
import re
from urllib.parse import parse_qs

import pytest
from django.urls import reverse
from django.utils import timezone

from notes.models import Paper, Snippet
from search.indexing import index_note, index_paper
from search.passages import split
from search.templatetags.search_ui import EXCERPT_CHARS, highlight_terms
from tests.search_fixtures import corpus_entries

URL = reverse("search:results")
ODD_QUERIES = [
    "x" * 5000,
    "🧪🔬 diffusion 🚀",
    "انتشار التوجيه",  # right-to-left
    "שלום עולם",
    '"unbalanced quote',
    "guid*",
    "diffusion NEAR guidance",
    "title:guidance",
    "-guidance",
    "it's o'clock",
    "' OR 1=1 --",
    "\"\" '' ** :: --",
    "(((",
    "AND OR NOT",
    "\\",
    "%_%",
    "nul\x00byte",
]


@pytest.fixture
def notes(user, other_user, write_note):
    paper = Paper.objects.create(user=user, title="Classifier-Free Diffusion Guidance", abstract="We jointly train a conditional and an unconditional diffusion model.")
    return {
        "guidance": write_note(user, "Diffusion guidance", "Classifier-free guidance mixes conditional and unconditional score estimates to trade diversity for fidelity.", tags=["ml", "diffusion"], paper=paper),
        "sourdough": write_note(user, "Sourdough starter", "Feed the starter with rye flour every twelve hours; the dough rises best at 26 degrees.", tags=["baking"]),
        "cat": write_note(user, "Afternoon at home", "My cat sleeps on the rug by the window all afternoon."),
        "paper": paper,
        "mallory": write_note(other_user, "Mallory's guidance plans", "Classifier-free guidance trades diversity for fidelity in diffusion models, says mallory."),
    }


def hit_titles(response) -> list[str]:
    return re.findall(r'class="hit-title" href="[^"]*">([^<]*)</a>', response.content.decode())


def test_typing_shows_hits_in_the_dropdown_with_query_words_marked(auth_client, notes, htmx_get):
    response = htmx_get(auth_client, URL, {"q": "Guidance", "mode": "keyword"}, target="search-dropdown")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html  # a fragment, not a page
    assert hit_titles(response)[0] == "Diffusion guidance"
    assert "<mark>guidance</mark>" in html
    assert f'href="{notes["guidance"].get_absolute_url()}#p-' in html
    assert "#ml" in html and "Classifier-Free Diffusion Guidance" in html  # tags and the linked paper
    assert re.search(r'class="all-results" href="/search/\?q=Guidance&amp;mode=keyword">All 1 result for', html)


def test_full_page_and_fragment_come_from_the_same_url(auth_client, notes, htmx_get):
    page = auth_client.get(URL, {"q": "guidance", "mode": "keyword"})
    fragment = htmx_get(auth_client, URL, {"q": "guidance", "mode": "keyword"})
    assert "<html" in page.content.decode() and 'class="search-filters"' in page.content.decode()
    assert "<html" not in fragment.content.decode() and 'class="search-filters"' not in fragment.content.decode()
    assert hit_titles(page) == hit_titles(fragment) == ["Diffusion guidance"]


def test_a_note_containing_markup_shows_it_as_text(auth_client, user, write_note):
    write_note(user, "<b>Bold</b> title", "<script>alert('tokenizer')</script> the tokenizer splits words")
    html = auth_client.get(URL, {"q": "tokenizer", "mode": "keyword"}).content.decode()
    assert "<script>alert" not in html and "<b>Bold</b>" not in html
    assert "&lt;script&gt;alert(&#x27;<mark>tokenizer</mark>&#x27;)&lt;/script&gt;" in html
    assert "&lt;b&gt;Bold&lt;/b&gt; title" in html


def test_a_snippet_hit_opens_its_note_at_the_snippet(auth_client, user, write_note):
    note = write_note(user, "Reading notes", "Thoughts on the paper.", indexed=False)
    snippet = Snippet.objects.create(note=note, kind=Snippet.QUOTE, text="Attention is all you need, said the abstract.", locator="p. 1")
    index_note(note.pk)
    html = auth_client.get(URL, {"q": "abstract attention", "mode": "keyword", "kind": "snippet"}).content.decode()
    assert f'<a class="hit-title" href="{note.get_absolute_url()}#snippet-{snippet.pk}">Reading notes</a> <span class="hit-kind">snippet</span>' in html
    assert "<mark>Attention</mark> is all you need, said the <mark>abstract</mark>." in html
    assert f'id="snippet-{snippet.pk}"' in auth_client.get(note.get_absolute_url()).content.decode()  # the anchor exists


def test_meaning_finds_a_note_by_what_it_meant_and_words_do_not(auth_client, notes):
    semantic = auth_client.get(URL, {"q": "feline napping on a carpet", "mode": "semantic"})
    keyword = auth_client.get(URL, {"q": "feline napping on a carpet", "mode": "keyword"})
    hybrid = auth_client.get(URL, {"q": "feline napping on a carpet"})
    assert hit_titles(semantic)[0] == "Afternoon at home"
    assert "Afternoon at home" not in hit_titles(keyword)
    assert hit_titles(hybrid)[0] == "Afternoon at home"
    assert re.search(r'<input[^>]*value="hybrid"[^>]*checked', hybrid.content.decode())  # the default mode


def test_another_users_notes_never_appear(auth_client, notes):
    for mode in ["hybrid", "semantic", "keyword"]:
        html = auth_client.get(URL, {"q": "classifier-free guidance diversity fidelity mallory", "mode": mode}).content.decode()
        assert "Mallory" not in html and "says mallory" not in html, mode
        assert "Diffusion guidance" in html, mode


def test_filters_narrow_the_results(auth_client, user, notes, write_note):
    old = write_note(user, "Old guidance notes", "Guidance scale sweeps from the old lab.", tags=["archive"])
    old.created = timezone.make_aware(dt.datetime(2020, 3, 1))
    old.save(update_fields=["created"])
    assert index_paper(notes["paper"].pk) == "indexed"
    query = {"q": "guidance", "mode": "keyword"}

    assert set(hit_titles(auth_client.get(URL, query))) >= {"Diffusion guidance", "Old guidance notes", "Classifier-Free Diffusion Guidance"}
    assert hit_titles(auth_client.get(URL, {**query, "tag": "archive"})) == ["Old guidance notes"]
    assert hit_titles(auth_client.get(URL, {**query, "paper": notes["paper"].pk, "kind": "note"})) == ["Diffusion guidance"]
    assert hit_titles(auth_client.get(URL, {**query, "to": "2020-12-31"})) == ["Old guidance notes"]
    assert "Old guidance notes" not in hit_titles(auth_client.get(URL, {**query, "from": "2021-01-01"}))
    assert hit_titles(auth_client.get(URL, {**query, "kind": "paper"})) == ["Classifier-Free Diffusion Guidance"]
    assert "Classifier-Free Diffusion Guidance" not in hit_titles(auth_client.get(URL, {**query, "kind": "note"}))


def test_results_are_paged_and_the_page_links_keep_the_query(auth_client, user, write_note):
    for n in range(13):
        write_note(user, f"Laser run {n}", f"Run {n}: the laser wavelength drifted by {n} picometres.", tags=["optics"])
    first = auth_client.get(URL, {"q": "laser wavelength", "mode": "keyword", "tag": "optics"})
    second = auth_client.get(URL, {"q": "laser wavelength", "mode": "keyword", "tag": "optics", "page": 2})
    assert len(hit_titles(first)) == 10 and len(hit_titles(second)) == 3
    assert not set(hit_titles(first)) & set(hit_titles(second))
    html = first.content.decode()
    assert "Page 1 of 2" in html
    assert 'href="/search/?q=laser+wavelength&amp;mode=keyword&amp;tag=optics&amp;page=2"' in html
    assert 'rel="prev"' in second.content.decode()
    assert auth_client.get(URL, {"q": "laser wavelength", "mode": "keyword", "page": 9}).status_code == 200


def test_a_hits_tag_link_keeps_the_query_and_filters_and_narrows_to_that_tag(auth_client, user, write_note):
    write_note(user, "Laser log", "The laser wavelength drifted.", tags=["optics", "c++&lab/x"])
    page = auth_client.get(URL, {"q": "laser wavelength", "mode": "keyword", "tag": "optics", "page": 1, "to": "2099-01-01"})
    links = re.findall(r'<a class="tag" href="([^"]+)">#([^<]+)</a>', page.content.decode())
    assert [name for _, name in links] == ["c++&amp;lab/x", "optics"]
    for href, name in links:
        path, _, query = html.unescape(href).partition("?")
        assert path == URL
        assert parse_qs(query) == {"q": ["laser wavelength"], "mode": ["keyword"], "to": ["2099-01-01"], "tag": [html.unescape(name)]}
    narrowed = auth_client.get(html.unescape(links[0][0]))
    assert hit_titles(narrowed) == ["Laser log"]


def test_a_bookmarked_url_shows_the_same_results_and_filled_in_filters(auth_client, notes):
    url = f"{URL}?q=guidance&mode=keyword&tag=ml&from=2001-02-03&to=2099-01-01&kind=note"
    html = auth_client.get(url).content.decode()
    assert hit_titles(auth_client.get(url)) == ["Diffusion guidance"]
    assert 'value="guidance"' in html
    assert re.search(r'<option value="ml" selected>', html)
    assert 'value="2001-02-03"' in html
    assert re.search(r'<input[^>]*value="keyword"[^>]*checked', html)
    assert re.search(r'<input[^>]*value="note"[^>]*checked', html) and not re.search(r'<input[^>]*value="paper"[^>]*checked', html)


def test_an_empty_query_shows_the_empty_state(auth_client, notes, htmx_get):
    for query in ["", "   ", "\t\n"]:
        page = auth_client.get(URL, {"q": query})
        assert page.status_code == 200 and "Type what you remember" in page.content.decode()
        assert hit_titles(page) == []
        dropdown = htmx_get(auth_client, URL, {"q": query}, target="search-dropdown")
        assert dropdown.status_code == 200 and "<p" not in dropdown.content.decode()  # nothing under the box


def test_odd_queries_never_fail(auth_client, notes, htmx_get):
    for mode in ["hybrid", "semantic", "keyword", "nonsense"]:
        for query in ODD_QUERIES:
            assert auth_client.get(URL, {"q": query, "mode": mode}).status_code == 200, (mode, query[:40])
            assert htmx_get(auth_client, URL, {"q": query, "mode": mode}, target="search-dropdown").status_code == 200


def test_malformed_filters_are_ignored_not_fatal(auth_client, notes):
    for params in [{"page": "abc"}, {"page": "-3"}, {"page": "99999999999999999999"}, {"from": "yesterday"},
                   {"to": "2024-02-30"}, {"paper": "x"}, {"paper": "999999"}, {"kind": "everything"},
                   {"tag": "no-such-tag"}]:
        response = auth_client.get(URL, {"q": "guidance", "mode": "keyword", **params})
        assert response.status_code == 200, params
        assert "Diffusion guidance" in hit_titles(response), params


def test_the_search_box_is_on_every_page_and_searches_while_typing(auth_client, notes):
    html = auth_client.get(notes["cat"].get_absolute_url()).content.decode()
    box = re.search(r'<input type="search" name="q"[^>]*>', html).group()
    assert 'hx-get="/search/"' in box and 'hx-sync="this:replace"' in box
    assert 'hx-trigger="input changed delay:250ms, search"' in box
    assert 'action="/search/"' in html


def test_the_results_page_needs_a_login(client):
    response = client.get(URL, {"q": "guidance"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_highlight_marks_query_words_in_escaped_text():
    assert highlight_terms("Embedding <b>models</b> embed", "EMBEDDINGS model") == (
        "<mark>Embedding</mark> &lt;b&gt;<mark>models</mark>&lt;/b&gt; embed"
    )
    assert highlight_terms("a & b", "") == "a &amp; b"
    assert highlight_terms("the cat", "the") == "the cat"  # stop words stay unmarked
    assert highlight_terms("x" * 50, "(" * 5000) == "x" * 50


def test_highlight_marks_the_words_the_search_matched_not_every_word_with_the_same_start():
    """Marked as the keyword index matches: a word's other forms, not longer words that only
    begin like it (the research log's "how" in "however", "trade" in "tradeoff")."""
    assert highlight_terms("However, how it trades off: a tradeoff.", "how trade") == (
        "However, <mark>how</mark> it <mark>trades</mark> off: a tradeoff."
    )
    assert highlight_terms("Diverse samples, less diversity; happiness", "diversity happy") == (
        "<mark>Diverse</mark> samples, less <mark>diversity</mark>; <mark>happiness</mark>"
    )
    assert highlight_terms("One step on", "one") == "<mark>One</mark> step on"  # one and on share a stem


def test_a_long_passage_shows_an_excerpt_with_its_first_marked_word_in_view():
    """Every long passage of the real corpus, asked for a word deep inside it: a few lines
    from a little before that word, cut at spaces, "…" where cut; short ones whole."""
    passages = [p.text for note in corpus_entries() for p in split(note["title"], note["body"])]
    long = [text for text in passages if len(text) > 3 * EXCERPT_CHARS]
    asked = 0
    for text in long:
        # a word whose forms first appear past two excerpts' length
        deep = [w for w in re.findall(r"[A-Za-z]{6,}", text) if text.lower().find(w[:5].lower()) > 2 * EXCERPT_CHARS]
        if not deep:
            continue
        asked += 1
        shown = highlight_terms(text, deep[0])
        visible = html.unescape(re.sub(r"</?mark>", "", shown))
        assert visible.startswith("…") and EXCERPT_CHARS // 2 < len(visible) <= EXCERPT_CHARS + 2
        core = visible.strip("…")
        assert core in text and "<mark>" in shown  # the first of the word's forms (asking: "ask")
        start, end = text.index(core), text.index(core) + len(core)
        assert not text[start - 1].isalnum() and (end == len(text) or not text[end].isalnum())  # cut between words
    assert asked > 20
    opening = highlight_terms(long[0], "nothing-found-here")  # found by meaning alone: the start
    assert opening.endswith("…") and long[0].startswith(html.unescape(opening[:-1]))
    short = next(text for text in passages if len(text) < EXCERPT_CHARS)
    assert html.unescape(highlight_terms(short, "")) == short


def test_a_paper_and_the_notes_about_it_are_one_hit_with_the_notes_beneath(auth_client, user, notes, write_note):
    """The research log has both a paper and notes about it: they take one place, not two."""
    from search import services

    second = write_note(user, "Guidance sweep log", "Swept the guidance scale of classifier-free diffusion guidance.", paper=notes["paper"])
    assert index_paper(notes["paper"].pk) == "indexed"
    write_note(user, "Unrelated guidance", "Guidance counselling for students.")
    page = services.search(user, "classifier-free diffusion guidance", mode="keyword")
    papers = [h for h in page.hits if h.paper_id == notes["paper"].pk]
    assert len(papers) == 1 and papers[0].kind == "paper" and papers[0].title == "Classifier-Free Diffusion Guidance"
    assert {n.note_id for n in papers[0].notes} == {notes["guidance"].pk, second.pk}
    assert all(n.kind == "note" and n.url.startswith(f"/notes/{n.note_id}") for n in papers[0].notes)
    assert page.total == len(page.hits) == 2

    html = auth_client.get(URL, {"q": "classifier-free diffusion guidance", "mode": "keyword"}).content.decode()
    beneath = re.search(r'<ul class="hit-notes".*?</ul>', html, re.S).group(0)
    assert "Diffusion guidance" in beneath and "Guidance sweep log" in beneath
    assert html.index("Classifier-Free Diffusion Guidance") < html.index('<ul class="hit-notes"')


def test_a_note_about_a_paper_that_was_not_found_stays_a_note_hit(auth_client, user, notes):
    from search import services

    # The paper itself is not indexed here, so only the note is found: it is not turned into the paper.
    [hit] = services.search(user, "unconditional score estimates", mode="keyword").hits
    assert hit.kind == "note" and hit.note_id == notes["guidance"].pk and hit.notes == []


def test_a_hit_whose_passage_is_its_title_shows_the_title_once(auth_client, user, notes):
    """A paper known only by its title (the research log's, with no abstract) is found by that
    title: the hit does not repeat it as its passage."""
    paper = Paper.objects.create(user=user, title="Learning Universal Predictors")
    assert index_paper(paper.pk) == "indexed" and index_paper(notes["paper"].pk) == "indexed"
    html = auth_client.get(URL, {"q": "universal predictors", "mode": "keyword"}).content.decode()
    hit = re.search(r'<li class="hit hit-paper">.*?</li>', html, re.S).group(0)
    assert "Learning Universal Predictors" in hit and "hit-passage" not in hit
    other = auth_client.get(URL, {"q": "unconditional diffusion", "mode": "keyword"}).content.decode()
    assert '<p class="hit-passage">We jointly train a conditional and an <mark>unconditional</mark>' in other
