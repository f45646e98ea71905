"""With a realistic log (the 235-note corpus) the busy pages make a fixed number of queries, not one per row."""

import json
import re
from pathlib import Path

import pytest
from django.urls import reverse

from notes.models import Note, Paper, Snippet

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "notes-corpus.json"
HUB = "Reading list"


@pytest.fixture
def corpus(user):
    """The corpus as one user's log: paper entries get a paper of their own, the others are all
    about one survey; every note has tags and links to a hub note."""
    if not CORPUS.exists():
        pytest.skip(f"the corpus is not at {CORPUS}")
    hub = Note.objects.create_note(user, title=HUB, body="what to read next [[Nowhere yet]]", tags=["meta"])
    survey = Paper.objects.create(user=user, title="A survey", year=2024)
    for i, entry in enumerate(json.loads(CORPUS.read_text())):
        paper = survey
        if entry["kind"] == "paper":
            paper = Paper.objects.create(user=user, title=entry["title"][:500], year=2000 + i % 25, authors="A. One, B. Two")
        words = re.findall(r"[a-z]{5,}", entry["body"].lower())[:2]
        Note.objects.create_note(
            user, title=entry["title"], body=f"{entry['body'][:2000]}\n\nSee [[{HUB}]].",
            tags=[entry["kind"], *words], paper=paper,
        )
    for text in ("a quote", "more quoted", "x^2"):
        Snippet.objects.create(note=hub, kind="quote", text=text)
    return hub


def test_the_corpus_is_loaded(corpus, user):
    assert Note.objects.for_user(user).count() == 236
    assert corpus.backlinks().count() == 235


def test_the_log_page_does_not_query_per_note(auth_client, corpus, django_assert_max_num_queries):
    with django_assert_max_num_queries(15):
        response = auth_client.get(reverse("notes:log"))
    assert response.status_code == 200
    assert len(response.context["page"]) == 20


def test_the_filtered_log_fragment_does_not_query_per_note(auth_client, corpus, django_assert_max_num_queries):
    with django_assert_max_num_queries(15):
        response = auth_client.get(reverse("notes:log"), {"tag": "paper"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response.content.decode().count('<li class="entry">') == 20


def test_a_note_page_with_many_backlinks_does_not_query_per_link(auth_client, corpus, django_assert_max_num_queries):
    auth_client.get(corpus.get_absolute_url())  # the first view fills the render cache
    with django_assert_max_num_queries(20):
        response = auth_client.get(corpus.get_absolute_url())
    assert len(response.context["backlinks"]) == 235


def test_a_paper_page_and_the_papers_list_do_not_query_per_row(auth_client, corpus, user, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        response = auth_client.get(reverse("notes:papers"), {"sort": "title"})
    assert len(response.context["papers"]) == 89
    survey = Paper.objects.for_user(user).get(title="A survey")
    with django_assert_max_num_queries(10):
        response = auth_client.get(survey.get_absolute_url())
    assert len(response.context["notes"]) == 147
