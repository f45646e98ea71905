"""Lablog served from a path of a shared host (URL_PREFIX=/lablog behind a proxy that takes the
prefix off): through gunicorn, as production runs it, every page, link, form, stylesheet,
htmx request and redirect stays under the prefix, and its cookies go to no other path."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from notes.models import Note
from tests.browser import chromium  # noqa: F401
from tests.celery_worker import test_database_url as database_url_for_subprocesses

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "/lablog"
pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def prefixed_server(transactional_db, tmp_path):
    """gunicorn with URL_PREFIX; its SCRIPT_NAME takes the prefix off as the proxy would."""
    port = free_port()
    # DB_CONN_MAX_AGE=0: no connection outlives its request to hold the test database open at teardown.
    env = dict(os.environ, DATABASE_URL=database_url_for_subprocesses(), URL_PREFIX=PREFIX, SCRIPT_NAME=PREFIX,
               ALLOWED_HOSTS="127.0.0.1", DB_CONN_MAX_AGE="0")
    log = open(tmp_path / "gunicorn.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "lablog.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--threads", "4", "--timeout", "120"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{base}{PREFIX}/accounts/login/", timeout=5).read()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("gunicorn did not start:\n" + (tmp_path / "gunicorn.log").read_text()[-3000:])
            time.sleep(0.3)
    yield base
    server.terminate()
    server.wait(30)
    log.close()


def addresses(page) -> list[str]:
    """Every address the page links to or loads, as written in its HTML."""
    return page.evaluate("""() => [...document.querySelectorAll('a[href], link[href], script[src], img[src], form[action], [hx-get], [hx-post]')]
        .flatMap(e => ['href', 'src', 'action', 'hx-get', 'hx-post'].map(a => e.getAttribute(a)).filter(v => v !== null))""")


def test_every_page_link_form_and_asset_stays_under_the_url_prefix(chromium, prefixed_server, user):  # noqa: F811
    Note.objects.create_note(user, title="Guidance notes", body="Classifier-free guidance, see [[Sampling]] and run:1.")
    client = Client()
    client.force_login(user)  # a database session the server reads
    context = chromium.new_context(base_url=prefixed_server, viewport={"width": 1280, "height": 900})
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "domain": "127.0.0.1", "path": PREFIX + "/"}])
    page = context.new_page()
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)

    page.goto(f"{PREFIX}/")
    expect(page.get_by_role("link", name="Guidance notes")).to_be_visible()
    # The stylesheet loaded: the top bar has its own background, not the browser's default.
    assert page.evaluate("getComputedStyle(document.querySelector('.topbar')).display") == "flex"
    page.get_by_role("link", name="Guidance notes").first.click()
    expect(page).to_have_url(f"{prefixed_server}{PREFIX}/notes/{Note.objects.get().pk}/")
    outside = [a for a in addresses(page) if a.startswith("/") and not a.startswith(PREFIX + "/")]
    assert outside == []
    assert page.locator("a.wikilink").get_attribute("href").startswith(f"{PREFIX}/notes/wiki/?title=Sampling")

    # htmx: the search box's live results come from under the prefix.
    page.locator("header input[name=q]").fill("guidance")
    expect(page.locator("#search-dropdown .hit-title").first).to_have_text("Guidance notes")

    # A form post (CSRF cookie and token under the prefix) and its redirect.
    page.goto(f"{PREFIX}/notes/new/")
    page.fill("#id_title", "Prefixed")
    page.fill("#id_body", "Written behind a proxy.")
    page.keyboard.press("Control+s")
    expect(page.locator(".note-head h1")).to_have_text("Prefixed")
    assert page.url == f"{prefixed_server}{PREFIX}/notes/{Note.objects.get(title='Prefixed').pk}/"
    cookies = {c["name"]: c["path"] for c in context.cookies()}
    assert cookies[settings.CSRF_COOKIE_NAME] == PREFIX + "/"

    page.goto(f"{PREFIX}/search/?q=proxy")
    outside = [a for a in addresses(page) if a.startswith("/") and not a.startswith(PREFIX + "/")]
    assert outside == [] and failed == []
    context.close()


def test_a_url_prefix_that_is_not_a_path_is_refused_at_start():
    env = dict(os.environ, URL_PREFIX="lablog")
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "URL_PREFIX must be a path such as /lablog" in result.stderr
