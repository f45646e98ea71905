"""Papers: arXiv normalisation, duplicates, the paper page and list."""

from datetime import date

import pytest
from django.urls import reverse

from notes.models import Note, Paper


def add_paper(client, **fields):
    data = {"title": "HuggingGPT", "authors": "", "author_count": "", "published": "", "year": "", "venue": "", "arxiv_id": "", "doi": "", "url": "",
            "citation_key": "", "abstract": "", **fields}
    return client.post(reverse("notes:paper_new"), data)


@pytest.mark.parametrize("pasted, expected", [
    ("https://arxiv.org/pdf/2303.17580.pdf", "2303.17580"),
    ("https://arxiv.org/pdf/2303.17580v3", "2303.17580"),
    ("https://arxiv.org/abs/2303.17580v2", "2303.17580"),
    ("arxiv.org/abs/2303.17580", "2303.17580"),
    ("2303.17580v1", "2303.17580"),
    ("arXiv:2303.17580", "2303.17580"),
    ("https://arxiv.org/abs/hep-th/9901001v2", "hep-th/9901001"),
])
def test_pasted_arxiv_id_or_url_is_kept_as_the_bare_id(auth_client, user, pasted, expected):
    response = add_paper(auth_client, arxiv_id=pasted)
    paper = Paper.objects.get(user=user)
    assert response["Location"] == paper.get_absolute_url()
    assert paper.arxiv_id == expected


def test_text_that_is_no_arxiv_id_gets_a_form_error(auth_client, user):
    response = add_paper(auth_client, arxiv_id="https://example.org/paper.pdf")
    assert response.status_code == 200 and "Not an arXiv id" in response.content.decode()
    assert not Paper.objects.exists()


def test_second_paper_with_the_same_arxiv_id_is_refused_with_a_link_to_the_first(auth_client, user):
    add_paper(auth_client, arxiv_id="2303.17580")
    first = Paper.objects.get(user=user)
    response = add_paper(auth_client, title="Again", arxiv_id="https://arxiv.org/pdf/2303.17580v2.pdf")
    html = response.content.decode()
    assert response.status_code == 200 and "You already have this paper" in html
    assert f'href="{first.get_absolute_url()}"' in html
    assert Paper.objects.filter(user=user).count() == 1


def test_another_user_may_have_the_same_arxiv_paper(auth_client, other_user, user):
    Paper.objects.create(user=other_user, title="Theirs", arxiv_id="2303.17580")
    add_paper(auth_client, arxiv_id="2303.17580")
    assert Paper.objects.filter(user=user, arxiv_id="2303.17580").exists()


def test_editing_a_paper_keeps_its_own_arxiv_id_valid(auth_client, user):
    paper = Paper.objects.create(user=user, title="Old title", arxiv_id="2303.17580")
    response = auth_client.post(reverse("notes:paper_edit", args=[paper.pk]), {"title": "New title", "arxiv_id": "2303.17580v2", "base_version": 1})
    assert response.status_code == 302
    paper.refresh_from_db()
    assert (paper.title, paper.arxiv_id) == ("New title", "2303.17580")


def test_paper_page_lists_its_notes_and_offers_a_new_note_about_it(auth_client, user):
    paper = Paper.objects.create(user=user, title="DDPM", abstract="We present high quality image synthesis")
    Note.objects.create_note(user, title="Reading DDPM", body="", paper=paper)
    Note.objects.create_note(user, title="Unrelated note", body="")
    html = auth_client.get(paper.get_absolute_url()).content.decode()
    assert "Reading DDPM" in html and "Unrelated note" not in html
    assert "high quality image synthesis" in html
    new_url = f"{reverse('notes:new')}?paper={paper.pk}"
    assert new_url in html
    form = auth_client.get(new_url).context["form"]
    assert form["paper"].value() == paper.pk


def test_papers_list_sorts_by_year_and_title(auth_client, user):
    for title, year in [("B paper", 2019), ("A paper", 2023), ("C paper", None)]:
        Paper.objects.create(user=user, title=title, year=year)

    def order(sort):
        return [p.title for p in auth_client.get(reverse("notes:papers"), {"sort": sort}).context["papers"]]

    assert order("title") == ["A paper", "B paper", "C paper"]
    assert order("-title") == ["C paper", "B paper", "A paper"]
    assert order("year") == ["B paper", "A paper", "C paper"]
    assert order("-year") == ["A paper", "B paper", "C paper"]


def test_papers_list_sorts_by_published_date_with_undated_papers_last(auth_client, user):
    for title, published, year in [("Old", date(2020, 1, 13), None), ("New", date(2024, 6, 27), None),
                                   ("Mid", date(2023, 9, 19), None), ("Year only", None, 2025), ("Undated", None, None)]:
        Paper.objects.create(user=user, title=title, published=published, year=year)

    def order(sort):
        return [p.title for p in auth_client.get(reverse("notes:papers"), {"sort": sort}).context["papers"]]

    assert order("published") == ["Old", "Mid", "New", "Year only", "Undated"]
    assert order("-published") == ["New", "Mid", "Old", "Year only", "Undated"]
    # The year follows the date, so sorting by year agrees.
    assert order("-year") == ["Year only", "New", "Mid", "Old", "Undated"]


def test_author_count_and_date_show_on_the_paper_page_and_list(auth_client, user):
    paper = Paper.objects.create(user=user, title="ITERTL", author_count=6, published=date(2024, 6, 27))
    page = auth_client.get(paper.get_absolute_url()).content.decode()
    assert "6 authors · <time datetime=\"2024-06-27\">27 Jun 2024</time>" in page
    listing = auth_client.get(reverse("notes:papers")).content.decode()
    assert "6 authors" in listing and "27 Jun 2024" in listing
    assert paper.year == 2024


def test_author_count_and_date_are_edited_in_the_paper_form(auth_client, user):
    paper = Paper.objects.create(user=user, title="ITERTL", year=2019)
    form_html = auth_client.get(reverse("notes:paper_edit", args=[paper.pk])).content.decode()
    assert 'name="author_count"' in form_html and 'type="date"' in form_html
    response = auth_client.post(reverse("notes:paper_edit", args=[paper.pk]), {
        "title": "ITERTL", "author_count": "6", "published": "2024-06-27", "year": "2019", "base_version": 1,
    })
    assert response.status_code == 302
    paper.refresh_from_db()
    assert (paper.author_count, paper.published, paper.year) == (6, date(2024, 6, 27), 2024)
    form_html = auth_client.get(reverse("notes:paper_edit", args=[paper.pk])).content.decode()
    assert 'value="2024-06-27"' in form_html


def test_deleting_a_paper_keeps_its_notes(auth_client, user):
    paper = Paper.objects.create(user=user, title="DDPM")
    note = Note.objects.create_note(user, title="Reading", body="", paper=paper)
    auth_client.post(reverse("notes:paper_delete", args=[paper.pk]))
    assert not Paper.objects.exists()
    note.refresh_from_db()
    assert note.paper is None


def test_pasting_into_the_arxiv_field_answers_with_the_normalised_id(auth_client):
    response = auth_client.get(reverse("notes:paper_arxiv_field"), {"arxiv_id": "https://arxiv.org/pdf/2303.17580.pdf"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'value="2303.17580"' in html and "arxiv.org/pdf" not in html


def test_arxiv_field_check_warns_at_once_about_a_paper_already_there(auth_client, user):
    existing = Paper.objects.create(user=user, title="HuggingGPT", arxiv_id="2303.17580")
    html = auth_client.get(reverse("notes:paper_arxiv_field"), {"arxiv_id": "2303.17580v2"}).content.decode()
    assert "You already have this paper" in html and existing.get_absolute_url() in html
    own = auth_client.get(reverse("notes:paper_arxiv_field"), {"arxiv_id": "2303.17580v2", "paper": existing.pk})
    assert "You already have this paper" not in own.content.decode()
