"""Snippets on a note through the htmx endpoints: add, validate, edit, delete, reorder."""

import pytest
from django.urls import reverse

from notes.models import Note, Snippet

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def note(user):
    return Note.objects.create_note(user, title="Reading", body="")


def add(client, note, **fields):
    data = {"kind": "quote", "text": "", "locator": "", "language": "", "url": "", "comment": "", **fields}
    return client.post(reverse("notes:snippet_add", args=[note.pk]), data, **HX)


def test_quote_text_is_escaped_not_interpreted(auth_client, note):
    html = add(auth_client, note, text="<script>alert(1)</script> & more").content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html


def test_adding_a_quote_answers_with_the_snippet_section_including_it(auth_client, note):
    response = add(auth_client, note, text="Attention is all you need", locator="p. 3")
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<section id="snippets"')
    assert "<blockquote><p>Attention is all you need</p></blockquote>" in html and "p. 3" in html
    assert Snippet.objects.get(note=note).kind == "quote"


def test_code_snippet_is_highlighted_and_equation_left_for_katex(auth_client, note):
    add(auth_client, note, kind="code", text="def f(x):\n    return x", language="python")
    html = add(auth_client, note, kind="equation", text=r"\frac{a}{b}").content.decode()
    assert '<span class="k">def</span>' in html
    assert "math-display" in html and r"\frac{a}{b}" in html


@pytest.mark.parametrize("kind, message", [
    ("quote", "A quote needs the quoted text."),
    ("code", "A code snippet needs some code."),
    ("equation", "An equation needs its LaTeX."),
    ("link", "A link needs a URL."),
])
def test_each_kind_requires_its_own_field(auth_client, note, kind, message):
    response = add(auth_client, note, kind=kind, comment="only a comment")
    assert response.status_code == 422 and message in response.content.decode()
    assert not Snippet.objects.exists()


def test_link_snippet_keeps_url_and_comment_and_drops_fields_of_other_kinds(auth_client, note):
    add(auth_client, note, kind="link", url="https://example.org/post", comment="good intro", text="stale", language="c")
    snippet = Snippet.objects.get()
    assert (snippet.url, snippet.comment, snippet.text, snippet.language) == ("https://example.org/post", "good intro", "", "")


def test_editing_in_place_gives_a_form_then_the_updated_snippet(auth_client, note):
    snippet = Snippet.objects.create(note=note, kind="quote", text="old words")
    form = auth_client.get(reverse("notes:snippet_edit", args=[snippet.pk]), **HX).content.decode()
    assert f'id="snippet-{snippet.pk}"' in form and "<form" in form and "old words" in form
    prefix = f"s{snippet.pk}-"
    data = {prefix + "kind": "quote", prefix + "text": "new words", prefix + "locator": "§2", prefix + "base_version": 1}
    html = auth_client.post(reverse("notes:snippet_edit", args=[snippet.pk]), data, **HX).content.decode()
    assert "new words" in html and "Save snippet" not in html
    snippet.refresh_from_db()
    assert (snippet.text, snippet.locator) == ("new words", "§2")


def test_deleting_answers_with_nothing_so_the_snippet_disappears(auth_client, note):
    snippet = Snippet.objects.create(note=note, kind="quote", text="bye")
    response = auth_client.post(reverse("notes:snippet_delete", args=[snippet.pk]), **HX)
    assert response.status_code == 200 and response.content == b""
    assert not Snippet.objects.exists()


def test_moving_up_and_down_reorders_and_answers_with_the_new_order(auth_client, note):
    a, b, c = (Snippet.objects.create(note=note, kind="quote", text=t) for t in ("alpha", "beta", "gamma"))
    html = auth_client.post(reverse("notes:snippet_move", args=[c.pk, "up"]), **HX).content.decode()
    assert html.index("alpha") < html.index("gamma") < html.index("beta")
    auth_client.post(reverse("notes:snippet_move", args=[a.pk, "down"]), **HX)
    assert [s.text for s in note.snippets.all()] == ["gamma", "alpha", "beta"]
    auth_client.post(reverse("notes:snippet_move", args=[c.pk, "up"]), **HX)  # already first
    assert [s.text for s in note.snippets.all()] == ["gamma", "alpha", "beta"]


def test_snippets_show_on_the_note_page_in_order(auth_client, note):
    Snippet.objects.create(note=note, kind="quote", text="quote-two", position=2)
    Snippet.objects.create(note=note, kind="quote", text="quote-one", position=1)
    html = auth_client.get(note.get_absolute_url()).content.decode()
    assert html.index("quote-one") < html.index("quote-two")


def test_dropping_a_snippet_saves_the_new_order_and_ignores_foreign_ids(auth_client, note, other_user):
    a, b, c = (Snippet.objects.create(note=note, kind="quote", text=t) for t in ("alpha", "beta", "gamma"))
    foreign = Snippet.objects.create(note=Note.objects.create_note(other_user, title="x", body=""), kind="quote", text="theirs")
    order = f"{c.pk},{foreign.pk},{a.pk},{b.pk}"
    html = auth_client.post(reverse("notes:snippet_reorder", args=[note.pk]), {"order": order}, **HX).content.decode()
    assert html.index("gamma") < html.index("alpha") < html.index("beta") and "theirs" not in html
    assert [s.text for s in note.snippets.all()] == ["gamma", "alpha", "beta"]
    assert Snippet.objects.get(pk=foreign.pk).position == 1
