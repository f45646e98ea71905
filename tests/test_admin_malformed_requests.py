"""The admin answers crafted addresses (a date that is not one, a huge search, a bulk action on
ids that cannot exist) with a message on the list page, never a server error."""

import pytest
from django.urls import reverse

from notes.models import Note, Paper


@pytest.fixture
def staff_client(client, user):
    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    client.raise_request_exception = False
    Note.objects.create_note(user, title="Guidance sweep", body="scales 1..8")
    Paper.objects.create(user=user, title="Classifier-Free Diffusion Guidance", year=2022)
    return client


@pytest.mark.parametrize("name,params", [
    ("admin:notes_note_changelist", {"created__year": "-1"}),
    ("admin:notes_note_changelist", {"created__year": "99999999999999999999"}),
    ("admin:notes_note_changelist", {"created__year": "2024", "created__month": "²"}),
    ("admin:notes_paper_changelist", {"created__year": "-1"}),
    ("admin:workers_run_changelist", {"created__day": "0"}),
])
def test_a_date_filter_that_is_not_a_date_shows_the_list_unfiltered_with_a_message(staff_client, name, params):
    response = staff_client.get(reverse(name), params, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse(name)
    assert "Not a date, so the list is shown unfiltered" in response.content.decode()


@pytest.mark.parametrize("name,query,expected", [
    ("admin:notes_note_changelist", "guidance" + "x" * 100_000, None),
    ("admin:notes_paper_changelist", "diffusion " * 2000, "Classifier-Free Diffusion Guidance"),
    ("admin:auth_user_changelist", "ada " * 2000, "ada"),
])
def test_a_huge_search_is_cut_to_its_first_words_with_a_message(staff_client, name, query, expected):
    response = staff_client.get(reverse(name), {"q": query})
    page = response.content.decode()
    assert response.status_code == 200
    assert "A search takes at most 10 words and 200 characters" in page
    if expected:
        assert expected in page


def test_a_normal_search_and_date_filter_still_work(staff_client):
    page = staff_client.get(reverse("admin:notes_note_changelist"), {"q": "sweep"}).content.decode()
    assert "Guidance sweep" in page and "A search takes" not in page
    year = Note.objects.get().created.year
    response = staff_client.get(reverse("admin:notes_note_changelist"), {"created__year": str(year)})
    assert response.status_code == 200 and "Guidance sweep" in response.content.decode()


@pytest.mark.parametrize("selected", [["abc"], ["99999999999999999999"], ["²"]])
def test_a_bulk_action_on_ids_that_cannot_exist_does_nothing_and_says_so(staff_client, selected):
    url = reverse("admin:notes_note_changelist")
    response = staff_client.post(url, {"action": "delete_selected", "_selected_action": selected}, follow=True)
    assert response.status_code == 200
    assert "The selection names rows that cannot exist: nothing was done." in response.content.decode()
    assert Note.objects.count() == 1


def test_a_bulk_delete_of_real_rows_still_asks_and_deletes(staff_client):
    note = Note.objects.get()
    url = reverse("admin:notes_note_changelist")
    confirm = staff_client.post(url, {"action": "delete_selected", "_selected_action": [note.pk]})
    assert "Are you sure" in confirm.content.decode()
    staff_client.post(url, {"action": "delete_selected", "_selected_action": [note.pk], "post": "yes"})
    assert not Note.objects.exists()
