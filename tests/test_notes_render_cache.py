"""Rendered HTML is cached per note version and renderer version, never recomputed on every view."""

from unittest import mock

from notes import rendering
from notes.models import Note


def test_a_note_page_view_reuses_the_html_rendered_for_this_version(auth_client, user):
    note = Note.objects.create_note(user, title="Cached", body="**bold** text")
    auth_client.get(note.get_absolute_url())
    with mock.patch("notes.rendering.render_markdown", wraps=rendering.render_markdown) as render:
        response = auth_client.get(note.get_absolute_url())
    assert "<strong>bold</strong>" in response.content.decode()
    assert render.call_count == 0


def test_an_edit_renders_the_new_version_once(auth_client, user):
    note = Note.objects.create_note(user, title="Cached", body="old *text*")
    auth_client.get(note.get_absolute_url())
    note.apply_edit(base_version=1, title="Cached", body="new **text**")
    with mock.patch("notes.rendering.render_markdown", wraps=rendering.render_markdown) as render:
        first = auth_client.get(note.get_absolute_url()).content.decode()
        auth_client.get(note.get_absolute_url())
    assert "<strong>text</strong>" in first and "<em>text</em>" not in first
    assert render.call_count == 1


def test_bumping_the_renderer_version_re_renders_stale_html_lazily(auth_client, user, monkeypatch):
    note = Note.objects.create_note(user, title="Upgrade", body="*hello*")
    auth_client.get(note.get_absolute_url())
    # What an older renderer left in the cache.
    Note.objects.filter(pk=note.pk).update(rendered_html="<p>rendered by the old renderer</p>")
    assert "rendered by the old renderer" in auth_client.get(note.get_absolute_url()).content.decode()

    monkeypatch.setattr(rendering, "RENDERER_VERSION", rendering.RENDERER_VERSION + 1)
    html = auth_client.get(note.get_absolute_url()).content.decode()
    assert "rendered by the old renderer" not in html and "<em>hello</em>" in html
    stored = Note.objects.get(pk=note.pk)
    assert (stored.rendered_with, stored.rendered_version) == (rendering.RENDERER_VERSION, 1)
    assert "<em>hello</em>" in stored.rendered_html


def test_an_instance_moved_under_a_url_prefix_renders_its_links_again(user, settings):
    note = Note.objects.create_note(user, title="Moved", body="See [[Sampling]] and ![grid](run:7/grid.png).")
    assert 'href="/notes/wiki/?title=Sampling"' in note.html() and 'src="/runs/7/artifacts/grid.png"' in note.html()
    settings.URL_PREFIX = "/lablog"  # the setting an administrator gives in the environment
    html = Note.objects.get(pk=note.pk).html()
    assert 'href="/lablog/notes/wiki/?title=Sampling"' in html and 'src="/lablog/runs/7/artifacts/grid.png"' in html
    assert Note.objects.get(pk=note.pk).rendered_with == rendering.renderer_id() != rendering.RENDERER_VERSION
