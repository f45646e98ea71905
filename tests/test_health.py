import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent


def health(client):
    response = client.get(reverse("healthz"))
    return response.status_code, json.loads(response.content)


@pytest.fixture
def staff_client(client, user):
    """/healthz shows what each check found to staff only (anonymous callers get up/down)."""
    user.is_staff = True
    user.save()
    client.force_login(user)
    return client


def test_healthz_reports_no_worker_as_unhealthy_but_database_and_redis_fine(staff_client):
    status, body = health(staff_client)
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert not body["workers"]["ok"] and "no worker" in body["workers"]["detail"]
    assert status == 503 and body["ok"] is False


@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_healthz_reports_redis_down_without_failing_the_page(staff_client):
    status, body = health(staff_client)
    assert status == 503
    assert body["database"]["ok"]
    assert not body["redis"]["ok"] and not body["workers"]["ok"]


@pytest.mark.worker
def test_healthz_is_green_with_a_running_worker_and_footer_warning_goes_away(celery_worker, client, user):
    user.is_staff = True
    user.save()
    client.force_login(user)
    assert "No worker is running" in client.get(reverse("notes:log")).content.decode()
    worker = celery_worker(queues=["default"])
    status, body = health(client)
    assert status == 200 and body["ok"]
    assert any(w["hostname"] == worker.hostname for w in body["workers"]["detail"])
    assert "No worker is running" not in client.get(reverse("notes:log")).content.decode()


@pytest.mark.django_db
@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_footer_says_redis_is_down_when_it_is(client, user):
    client.force_login(user)
    assert "Redis is unreachable" in client.get(reverse("notes:log")).content.decode()


def test_production_settings_pass_check_deploy_with_no_warnings():
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_ENV": "production",
        "SECRET_KEY": "x" * 20 + "a-long-random-production-secret-key-0123456789",
        "ALLOWED_HOSTS": "lablog.example.org",
        "DATABASE_URL": "postgres://lablog@localhost/lablog",
        "REDIS_URL": "redis://localhost:6379/0",
        "LABLOG_VAR_DIR": str(ROOT / "var" / "test" / "deploy-check"),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {"PATH": "/usr/bin:/bin", "DJANGO_ENV": "production", "ALLOWED_HOSTS": "x.org",
           "LABLOG_VAR_DIR": str(ROOT / "var" / "test" / "deploy-check")}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr
