"""The note page and the log: rendering, backlinks, includes, filters, pagination."""

import datetime

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from notes.models import Note, Paper


def test_note_page_shows_rendered_body_tags_paper_and_revision_link(auth_client, user):
    paper = Paper.objects.create(user=user, title="Classifier-Free Diffusion Guidance", year=2022)
    note = Note.objects.create_note(user, title="CFG", body="Scale **w** matters\n\n```python\nx = 1\n```", tags=["cfg"], paper=paper)
    note.apply_edit(base_version=1, title="CFG", body="Scale **w** matters a lot\n\n```python\nx = 1\n```")
    html = auth_client.get(note.get_absolute_url()).content.decode()
    assert "<strong>w</strong>" in html and "#cfg" in html
    assert "Classifier-Free Diffusion Guidance" in html
    assert reverse("notes:revisions", args=[note.pk]) in html
    assert reverse("notes:edit", args=[note.pk]) in html


def test_backlinks_list_the_notes_that_link_here(auth_client, user):
    target = Note.objects.create_note(user, title="Guidance scale", body="w")
    source = Note.objects.create_note(user, title="Sampling log", body="see [[guidance   Scale]]")
    Note.objects.create_note(user, title="Unrelated", body="nothing")
    response = auth_client.get(target.get_absolute_url())
    assert list(response.context["backlinks"]) == [source]
    assert source.get_absolute_url() in response.content.decode()


def test_link_to_a_missing_note_is_shown_as_missing_and_turns_normal_once_it_exists(auth_client, user):
    source = Note.objects.create_note(user, title="Plan", body="next: [[Ablations]]")
    assert 'class="wikilink missing"' in auth_client.get(source.get_absolute_url()).content.decode()
    Note.objects.create_note(user, title="ablations", body="...")
    html = auth_client.get(source.get_absolute_url()).content.decode()
    assert 'class="wikilink missing"' not in html and 'class="wikilink"' in html


def make_notes(user, count, **kwargs):
    return [Note.objects.create_note(user, title=f"Entry {i:02d}", body=f"body {i}", **kwargs) for i in range(count)]


@override_settings(NOTES_PER_PAGE=5)
def test_log_is_newest_first_and_paginated(auth_client, user):
    notes = make_notes(user, 12)
    first = auth_client.get(reverse("notes:log"))
    assert [n.title for n in first.context["page"]] == [n.title for n in reversed(notes)][:5]
    third = auth_client.get(reverse("notes:log"), {"page": 3})
    assert [n.title for n in third.context["page"]] == ["Entry 01", "Entry 00"]
    assert "Page 3 of 3" in third.content.decode()


def test_log_filters_by_tag_paper_text_and_date_range(auth_client, user):
    paper = Paper.objects.create(user=user, title="DDPM")
    tagged = Note.objects.create_note(user, title="Tagged", body="a", tags=["diffusion"])
    about = Note.objects.create_note(user, title="About paper", body="b", paper=paper)
    worded = Note.objects.create_note(user, title="Words", body="mentions the beta schedule")
    old = Note.objects.create_note(user, title="Old", body="c", created=timezone.now() - datetime.timedelta(days=40))

    def titles(**params):
        return {n.title for n in auth_client.get(reverse("notes:log"), params).context["page"]}

    assert titles(tag="diffusion") == {tagged.title}
    assert titles(paper=paper.pk) == {about.title}
    assert titles(q="BETA SCHEDULE") == {worded.title}
    since = (timezone.now() - datetime.timedelta(days=1)).date().isoformat()
    assert old.title not in titles(since=since) and len(titles(since=since)) == 3
    until = (timezone.now() - datetime.timedelta(days=30)).date().isoformat()
    assert titles(until=until) == {old.title}


def test_log_htmx_request_gets_only_the_results_fragment(auth_client, user):
    make_notes(user, 2, tags=["x"])
    response = auth_client.get(reverse("notes:log"), {"tag": "x"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results"') and "<html" not in html
    assert "Entry 01" in html


def test_tag_cloud_counts_notes_per_tag(auth_client, user):
    make_notes(user, 3, tags=["rl"])
    Note.objects.create_note(user, title="one", body="", tags=["vision"])
    cloud = {t.name: t.count for t in auth_client.get(reverse("notes:log")).context["tag_cloud"]}
    assert cloud == {"rl": 3, "vision": 1}


def test_tag_cloud_counts_what_the_other_filters_leave_and_keeps_the_active_tag(auth_client, user):
    paper = Paper.objects.create(user=user, title="DDPM")
    Note.objects.create_note(user, title="a", body="", tags=["rl", "vision"], paper=paper)
    Note.objects.create_note(user, title="b", body="", tags=["rl"])
    Note.objects.create_note(user, title="c", body="", tags=["audio"])
    cloud = auth_client.get(reverse("notes:log"), {"paper": paper.pk, "tag": "audio"}).context["tag_cloud"]
    assert {t.name: t.count for t in cloud} == {"audio": 0, "rl": 1, "vision": 1}


def test_filtered_log_fragment_brings_the_tag_cloud_and_tag_filter_along(auth_client, user):
    paper = Paper.objects.create(user=user, title="DDPM")
    Note.objects.create_note(user, title="a", body="", tags=["rl"], paper=paper)
    Note.objects.create_note(user, title="b", body="", tags=["vision"])
    html = auth_client.get(reverse("notes:log"), {"paper": paper.pk, "tag": "rl"}, HTTP_HX_REQUEST="true").content.decode()
    cloud = html[html.index('id="tag-cloud"'):]
    assert 'hx-swap-oob="true"' in cloud[:200]
    # The active tag links back to the same filters without it; the cloud only has what the paper's notes carry.
    assert f'class="tag active" style="--weight: 1" href="/?paper={paper.pk}"' in cloud
    assert "#vision" not in cloud
    assert '<option value="rl" selected>' in html and 'id="tag-filter" hx-swap-oob="true"' in html


def test_full_log_page_has_no_out_of_band_copies(auth_client, user):
    Note.objects.create_note(user, title="a", body="", tags=["rl"])
    html = auth_client.get(reverse("notes:log"), {"tag": "rl"}).content.decode()
    assert html.count('id="tag-cloud"') == 1 and html.count('id="tag-filter"') == 1
    assert 'id="tag-cloud" class="tag-cloud" hx-target="#results" hx-swap="outerHTML" hx-push-url="true">' in html


@pytest.mark.parametrize("name", ["search/_index_badge.html", "search/_note_related.html", "workers/_note_runnables.html", "exchange/_note_export.html"])
def test_note_page_includes_the_other_apps_panels(auth_client, user, name):
    note = Note.objects.create_note(user, title="t", body="b")
    response = auth_client.get(note.get_absolute_url())
    assert name in [t.name for t in response.templates]
