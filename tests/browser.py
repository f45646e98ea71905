"""Playwright helpers for browser tests: Debian's Chromium against pytest-django's live_server.

    from tests.browser import *  # noqa: F401,F403
    # fixtures: chromium (session), browser_context, page, logged_in_page (as the `user` fixture);
    # helpers: log_in(context, base_url, user), screenshot(page, "name.png") into test-output/,
    # each_layout(page): the page at laptop and phone width, light and dark, one after another
"""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

__all__ = ["chromium", "browser_context", "page", "logged_in_page", "log_in", "screenshot", "each_layout", "OUTPUT_DIR"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
OUTPUT_DIR = Path(__file__).resolve().parent.parent / "test-output"


# One Playwright and one Chromium per test process. Each test module that imports `chromium`
# gets its own copy of the session fixture, and a second sync_playwright() in the process
# fails ("Sync API inside the asyncio loop"), so the copies share this and the last one closes it.
_shared = {"users": 0}


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        message = f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)  # CI installs it (make test): a missing browser there is a broken setup
        pytest.skip(message)
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made
    # from the test body are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    if not _shared["users"]:
        _shared["playwright"] = sync_playwright().start()
        _shared["browser"] = _shared["playwright"].chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    _shared["users"] += 1
    yield _shared["browser"]
    _shared["users"] -= 1
    if not _shared["users"]:
        _shared.pop("browser").close()
        _shared.pop("playwright").stop()


@pytest.fixture
def browser_context(chromium, live_server, transactional_db):
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(browser_context):
    return browser_context.new_page()


def log_in(context, base_url: str, user) -> None:
    """Give the browser context a session for `user` (no login form round trip)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])


@pytest.fixture
def logged_in_page(browser_context, live_server, user):
    log_in(browser_context, live_server.url, user)
    return browser_context.new_page()


def screenshot(page, name: str) -> Path:
    OUTPUT_DIR.mkdir(exist_ok=True)
    path = OUTPUT_DIR / name
    page.screenshot(path=str(path), full_page=True)
    return path


LAYOUTS = {"wide": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


def each_layout(page):
    """Yields "wide-light", "phone-light", "wide-dark", "phone-dark" with `page` set to each
    (the page is to be loaded again in each)."""
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for size, viewport in LAYOUTS.items():
            page.set_viewport_size(viewport)
            yield f"{size}-{scheme}"
