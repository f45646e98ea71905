"""API tokens: made and revoked on a page, stored hashed, expiring; bad tokens get 401."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from api.models import ApiToken, digest


@pytest.fixture
def token(user):
    return ApiToken.issue(user, "script", days=30)[1]


def get(client, path, raw=None, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"} if raw else {}
    return client.get(path, **headers, **extra)


def test_token_page_shows_a_new_token_once_and_stores_only_its_hash(auth_client, user):
    response = auth_client.post(reverse("api:tokens"), {"name": "laptop", "days": "30"})
    html = response.content.decode()
    stored = ApiToken.objects.get(user=user)
    raw = html.split('<code class="token-secret">')[1].split("</code>")[0]
    assert raw.startswith("llb_") and stored.key_hash == digest(raw) and raw not in stored.key_hash
    assert stored.expires.date() == (timezone.now() + timedelta(days=30)).date()
    assert raw not in auth_client.get(reverse("api:tokens")).content.decode()
    assert get(auth_client, "/api/notes/", raw).status_code == 200


def test_revoked_token_gets_401(auth_client, user, token):
    stored = ApiToken.objects.get(user=user)
    auth_client.post(reverse("api:revoke", args=[stored.pk]))
    assert get(auth_client, "/api/notes/", token).status_code == 401


def test_expired_token_gets_401(client, user, token):
    ApiToken.objects.filter(user=user).update(expires=timezone.now() - timedelta(seconds=1))
    assert get(client, "/api/notes/", token).status_code == 401


@pytest.mark.parametrize("header", [None, "Bearer nonsense", "Bearer llb_unknown", "Basic abc"])
def test_missing_or_unknown_token_gets_401(client, db, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    assert client.get("/api/notes/", **extra).status_code == 401


def test_a_session_login_is_not_enough_for_the_api(auth_client):
    assert auth_client.get("/api/notes/").status_code == 401


def test_another_users_token_cannot_be_revoked(client, user, other_user, token):
    stored = ApiToken.objects.get(user=user)
    client.force_login(other_user)
    assert client.post(reverse("api:revoke", args=[stored.pk])).status_code == 404
    assert ApiToken.objects.get(pk=stored.pk).status == "active"


def test_openapi_schema_is_served(client, db):
    schema = client.get("/api/openapi.json").json()
    assert schema["info"]["title"] == "Lablog API"
    assert {"/api/notes/", "/api/notes/{note_id}", "/api/papers/", "/api/search"} <= set(schema["paths"])
