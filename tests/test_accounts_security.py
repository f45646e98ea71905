"""No one in where they don't belong: exactly one first account however many sign up at
once, sign-in throttling with a clear message, /healthz details only for staff, the
proxy's headers trusted only when configured, and invalid UTF-8 refused with a message."""

import threading
import time

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse

from lablog import login_throttle
from notes.models import Note

PASSWORD = "a long passphrase 42"


@pytest.mark.django_db(transaction=True)
def test_eight_simultaneous_signups_make_exactly_one_superuser():
    barrier = threading.Barrier(8)
    statuses = []

    def sign_up(n):
        try:
            client = Client()
            barrier.wait()
            response = client.post(reverse("signup"), {
                "username": f"user{n}", "password1": PASSWORD, "password2": PASSWORD,
            })
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=sign_up, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    users = get_user_model().objects.all()
    assert statuses == [302] * 8 and users.count() == 8
    assert users.filter(is_superuser=True).count() == 1 == users.filter(is_staff=True).count()
    # The one that runs the place is the first account that was created.
    assert users.order_by("pk").first().is_superuser


@pytest.fixture
def throttle(settings):
    settings.LOGIN_THROTTLE_DELAY = 0.01
    settings.LOGIN_THROTTLE_WINDOW = 60
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        for key in client.scan_iter("lablog:login-fail:*"):
            client.delete(key)
    except redis.RedisError:
        pytest.skip("Redis is not running")
    yield client


def let_the_window_pass(client):
    """Time passing, faster: what is left of every throttle window becomes a second."""
    for key in client.scan_iter("lablog:login-fail:*"):
        client.expire(key, 1)
    time.sleep(1.2)


def sign_in(client, username, password, address="10.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


THROTTLED = "Too many failed sign-ins."


def test_failed_sign_ins_are_refused_for_a_while_then_a_correct_one_works(client, user, throttle):
    for _ in range(settings.LOGIN_THROTTLE_ACCOUNT_LIMIT):
        response = sign_in(client, "ada", "wrong")
        assert response.status_code == 200 and THROTTLED not in response.content.decode()
    # Now refused even with the right password, with a message that says why and for how long.
    refused = sign_in(client, "ada", "correct horse battery")
    html = refused.content.decode()
    assert THROTTLED in html and "try again in 1 minute." in html
    assert "_auth_user_id" not in client.session
    # Another address cannot unlock the account either.
    assert THROTTLED in sign_in(client, "ADA", "correct horse battery", address="10.9.9.9").content.decode()
    let_the_window_pass(throttle)
    assert sign_in(client, "ada", "correct horse battery").status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_one_address_trying_many_accounts_is_refused(client, user, throttle, settings):
    settings.LOGIN_THROTTLE_ADDRESS_LIMIT = 4
    for n in range(4):
        sign_in(client, f"nobody{n}", "wrong", address="10.6.6.6")
    assert THROTTLED in sign_in(client, "ada", "correct horse battery", address="10.6.6.6").content.decode()
    assert sign_in(client, "ada", "correct horse battery", address="10.7.7.7").status_code == 302


def test_failures_are_slowed_down_before_they_are_refused(user, throttle, settings):
    settings.LOGIN_THROTTLE_DELAY = 0.3
    for _ in range(settings.LOGIN_THROTTLE_SLOW_AFTER - 1):
        login_throttle.failed("ada", "10.0.0.1")
    assert login_throttle.check("ada", "10.0.0.1").delay == 0
    login_throttle.failed("ada", "10.0.0.1")
    assert login_throttle.check("ada", "10.0.0.1").delay == pytest.approx(0.3)
    login_throttle.failed("ada", "10.0.0.1")
    assert login_throttle.check("ada", "10.0.0.1").delay == pytest.approx(0.6)


def test_a_correct_sign_in_clears_the_count(client, user, throttle):
    for _ in range(settings.LOGIN_THROTTLE_ACCOUNT_LIMIT - 1):
        sign_in(client, "ada", "wrong")
    assert sign_in(client, "ada", "correct horse battery").status_code == 302
    client.logout()
    sign_in(client, "ada", "wrong")
    assert sign_in(client, "ada", "correct horse battery").status_code == 302


@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_sign_in_still_works_when_redis_is_down(client, user):
    assert sign_in(client, "ada", "wrong").status_code == 200
    assert sign_in(client, "ada", "correct horse battery").status_code == 302


@pytest.mark.django_db
@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_healthz_tells_anonymous_callers_only_up_or_down(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 503 and response.json() == {"ok": False}
    assert "127.0.0.1" not in response.content.decode() and "Error" not in response.content.decode()


@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_healthz_gives_staff_the_details(client, user):
    user.is_staff = True
    user.save()
    client.force_login(user)
    body = client.get(reverse("healthz")).json()
    assert body["ok"] is False and body["database"]["ok"] and not body["redis"]["ok"]
    assert body["redis"]["detail"]  # the exception, for someone who may see it


def test_the_forwarded_proto_header_is_ignored_unless_a_proxy_is_trusted(rf, settings):
    request = rf.get("/", HTTP_X_FORWARDED_PROTO="https", HTTP_X_FORWARDED_FOR="6.6.6.6, 10.0.0.5",
                     REMOTE_ADDR="10.0.0.9")
    settings.TRUSTED_PROXY = False
    settings.SECURE_PROXY_SSL_HEADER = None
    assert not request.is_secure() and login_throttle.client_address(request) == "10.0.0.9"
    settings.TRUSTED_PROXY = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert request.is_secure() and login_throttle.client_address(request) == "10.0.0.5"


def test_invalid_utf8_in_a_form_gets_a_message_and_nothing_is_saved(auth_client, user):
    body = b"title=Caf%E9&body=na%EFve+text&tags=&base_version="
    response = auth_client.generic("POST", reverse("notes:new"), body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    html = response.content.decode()
    assert "not valid UTF-8" in html and "<code>title</code>, <code>body</code>" in html
    assert "Sign out" in html  # the page as the signed-in user sees every page
    assert not Note.objects.exists()


def test_valid_utf8_and_a_typed_replacement_character_pass(auth_client, user):
    response = auth_client.post(reverse("notes:new"), {"title": "Café �", "body": "naïve"})
    assert response.status_code in (200, 302)
    assert Note.objects.get().title == "Café �"
