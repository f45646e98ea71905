import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.urls import reverse

SIGNUP = {"username": "ada", "password1": "a long passphrase 42", "password2": "a long passphrase 42"}


@pytest.mark.django_db
def test_first_account_becomes_staff_and_later_ones_do_not(client):
    assert client.post(reverse("signup"), SIGNUP).status_code == 302
    client.logout()
    client.post(reverse("signup"), {**SIGNUP, "username": "grace"})
    users = {u.username: u for u in get_user_model().objects.all()}
    assert users["ada"].is_staff and users["ada"].is_superuser
    assert not users["grace"].is_staff and not users["grace"].is_superuser


@pytest.mark.django_db
def test_signup_logs_the_new_user_in(client):
    response = client.post(reverse("signup"), SIGNUP, follow=True)
    assert response.context["user"].username == "ada"


@pytest.mark.django_db
@override_settings(ALLOW_SIGNUP=False)
def test_signup_can_be_switched_off(client):
    assert client.get(reverse("signup")).status_code == 404
    assert client.post(reverse("signup"), SIGNUP).status_code == 404
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_mismatched_passwords_get_a_form_error_and_no_account(client):
    response = client.post(reverse("signup"), {**SIGNUP, "password2": "something else 43"})
    assert response.status_code == 200
    assert "password" in str(response.context["form"].errors).lower()
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_pages_require_login(client):
    response = client.get(reverse("notes:log"))
    assert response.status_code == 302 and reverse("login") in response["Location"]
