"""What the search app adds to a note page: the indexing badge, related notes (link, dismiss), scroll-to."""

import re

import pytest
from django.urls import reverse

from notes.models import Note
from search.indexing import index_note
from search.models import Passage
from search.views.editing import add_related_link, with_related_link
from tests.waiting import wait_for_htmx_stop


@pytest.fixture
def trio(user, write_note):
    """Two notes about the same thing and one about something else."""
    return (
        write_note(user, "Attention heads", "Multi-head attention lets a transformer attend to several positions at once."),
        write_note(user, "Transformer layers", "Each transformer layer combines self-attention over the tokens with a feed-forward block."),
        write_note(user, "Tomato seedlings", "Water the tomato seedlings every morning and keep them in the sun."),
    )


def related_titles(response) -> list[str]:
    return re.findall(r'<article class="related-note">\s*<h3><a href="[^"]*">([^<]*)</a>', response.content.decode())


def test_badge_polls_while_pending_and_stops_with_286_once_indexed(auth_client, user, write_note, htmx_get):
    note = write_note(user, "Fresh note", "Just saved, not embedded yet.", indexed=False)
    page = auth_client.get(note.get_absolute_url()).content.decode()
    badge_url = reverse("search:index_badge", args=[note.pk])
    assert "indexing…" in page and f'hx-get="{badge_url}" hx-trigger="every 2s"' in page

    pending = htmx_get(auth_client, badge_url, target="")
    assert pending.status_code == 200 and "indexing…" in pending.content.decode()

    index_note(note.pk)
    done = htmx_get(auth_client, badge_url, target="")
    assert done.status_code == 286  # htmx stops polling
    assert done.content.decode().strip() == ""  # and the badge disappears
    assert "indexing…" not in auth_client.get(note.get_absolute_url()).content.decode()


@pytest.mark.worker
def test_a_saved_note_is_found_by_words_at_once_and_its_badge_goes_away_by_itself(client, user, celery_worker, settings):
    client.force_login(user)
    note = Note.objects.create_note(user, title="Fresh idea", body="Cryogenic amplifiers lower the noise floor of the readout.")
    badge_url = reverse("search:index_badge", args=[note.pk])
    assert "indexing…" in client.get(note.get_absolute_url()).content.decode()
    words = client.get(reverse("search:results"), {"q": "cryogenic amplifiers", "mode": "keyword"})
    assert "Fresh idea" in words.content.decode()  # before any worker ran

    celery_worker(queues=["embed"], extra_env={"SEARCH_INDEX_DIR": settings.SEARCH_INDEX_DIR})
    poll = wait_for_htmx_stop(client, badge_url, 60, "the note was never indexed", while_polling_says="indexing…")
    assert poll.content.decode().strip() == ""
    meaning = client.get(reverse("search:results"), {"q": "low-temperature amplifier noise", "mode": "semantic"})
    assert "Fresh idea" in meaning.content.decode()


def test_a_note_marked_dont_index_says_not_indexed(auth_client, user, write_note, htmx_get):
    note = write_note(user, "Private musings", "Keep this out of search by meaning.")
    note.apply_edit(base_version=note.version, title=note.title, body=note.body, searchable=False)
    response = htmx_get(auth_client, reverse("search:index_badge", args=[note.pk]), target="")
    assert response.status_code == 286 and "not indexed" in response.content.decode()


def test_related_panel_loads_lazily_with_the_passages_that_connect(auth_client, trio):
    attention, layers, tomato = trio
    page = auth_client.get(attention.get_absolute_url()).content.decode()
    related_url = reverse("search:related", args=[attention.pk])
    assert f'hx-get="{related_url}" hx-trigger="load"' in page

    panel = auth_client.get(related_url, HTTP_HX_REQUEST="true")
    titles = related_titles(panel)
    assert titles[0] == "Transformer layers" and "Attention heads" not in titles
    html = panel.content.decode()
    assert "Multi-head attention lets a transformer" in html  # this note's passage
    assert "Each transformer layer combines self-attention" in html  # the related note's passage


def test_another_users_notes_are_never_related(auth_client, other_user, trio, write_note):
    write_note(other_user, "Mallory's transformer notes", "Multi-head attention lets a transformer attend to several positions.")
    panel = auth_client.get(reverse("search:related", args=[trio[0].pk]))
    assert "Mallory" not in panel.content.decode()


def test_linking_a_suggestion_writes_a_wiki_link_into_the_note(auth_client, trio):
    attention, layers, tomato = trio
    response = auth_client.post(reverse("search:link_related", args=[attention.pk, layers.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Refresh"] == "true"
    attention.refresh_from_db()
    assert attention.body.endswith("\n\nRelated: [[Transformer layers]]\n")
    assert attention.version == 2
    assert list(layers.backlinks()) == [attention]
    assert "Transformer layers" not in related_titles(auth_client.get(reverse("search:related", args=[attention.pk])))

    auth_client.post(reverse("search:link_related", args=[attention.pk, tomato.pk]))
    attention.refresh_from_db()
    assert attention.body.endswith("Related: [[Transformer layers]], [[Tomato seedlings]]\n")
    page = auth_client.get(attention.get_absolute_url()).content.decode()
    assert "Linked [[Tomato seedlings]]." in page


def test_linking_keeps_an_edit_saved_in_between(user, trio):
    attention, layers, _ = trio
    stale = Note.objects.get(pk=attention.pk)
    attention.apply_edit(base_version=attention.version, title=attention.title, body=attention.body + "\n\nA line from another tab.")
    add_related_link(stale, layers)
    attention.refresh_from_db()
    assert "A line from another tab." in attention.body and attention.body.endswith("Related: [[Transformer layers]]\n")
    assert attention.version == 3


def test_a_title_a_wiki_link_cannot_hold_is_refused_plainly(auth_client, user, trio, write_note):
    odd = write_note(user, "Attention [draft] | v2", "Multi-head attention, a draft about transformer positions.")
    response = auth_client.post(reverse("search:link_related", args=[trio[0].pk, odd.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "which a wiki-link cannot hold" in response.content.decode()
    trio[0].refresh_from_db()
    assert trio[0].version == 1 and "Related" not in trio[0].body


def test_linking_twice_adds_the_link_once():
    body = with_related_link("Some text.", "Other note")
    assert with_related_link(body, "other   NOTE") == body == "Some text.\n\nRelated: [[Other note]]\n"
    assert with_related_link("", "Other note") == "Related: [[Other note]]\n"


def test_a_dismissed_suggestion_stays_dismissed(auth_client, trio):
    attention, layers, _ = trio
    url = reverse("search:related", args=[attention.pk])
    assert "Transformer layers" in related_titles(auth_client.get(url))
    response = auth_client.post(reverse("search:dismiss_related", args=[attention.pk, layers.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Transformer layers" not in related_titles(response)
    index_note(layers.pk, force=True)  # re-embedding the other note does not bring it back
    assert "Transformer layers" not in related_titles(auth_client.get(url))
    attention.refresh_from_db()
    assert attention.version == 1  # dismissing never edits the note


def test_passage_text_for_scroll_to(auth_client, user, write_note):
    note = write_note(user, "Long note", "# Intro\n\nFirst paragraph.\n\n## Method\n\nWe measured the drift twice.")
    start = note.body.index("We measured")
    response = auth_client.get(reverse("search:passage", args=[note.pk]), {"start": start})
    assert response.json()["text"] == "We measured the drift twice."
    assert auth_client.get(reverse("search:passage", args=[note.pk]), {"start": "x"}).json()["text"].startswith("# Intro")
    passage = Passage.objects.filter(note_id=note.pk, kind=Passage.NOTE).order_by("-start").first()
    response = auth_client.get(reverse("search:passage", args=[note.pk]), {"start": passage.start})
    assert response.json()["text"] == note.body[passage.start:passage.end]  # exactly the passage a hit points at


def test_another_users_note_ids_are_not_found(auth_client, user, other_user, write_note):
    mine = write_note(user, "Mine", "My own words about attention.")
    theirs = write_note(other_user, "Theirs", "Their words about attention.")
    gets = [
        reverse("search:index_badge", args=[theirs.pk]),
        reverse("search:related", args=[theirs.pk]),
        reverse("search:passage", args=[theirs.pk]),
    ]
    posts = [
        reverse("search:link_related", args=[theirs.pk, mine.pk]),
        reverse("search:link_related", args=[mine.pk, theirs.pk]),
        reverse("search:dismiss_related", args=[theirs.pk, mine.pk]),
        reverse("search:dismiss_related", args=[mine.pk, theirs.pk]),
        reverse("search:note_searchable", args=[theirs.pk]),
    ]
    for url in gets:
        assert auth_client.get(url).status_code == 404, url
    for url in posts:
        assert auth_client.post(url, {"searchable": "0"}).status_code == 404, url
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.version, theirs.version, theirs.searchable) == (1, 1, True)
    assert "Theirs" not in mine.body
