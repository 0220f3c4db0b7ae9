"""A real `wschats serve` (with a private ejabberd, or without XMPP), the built web client, and
Debian's Chromium driven by Playwright (no browser download: `executable_path`)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from wschats.devtools.chromium import CHROMIUM, CHROMIUM_ARGS
from wschats.devtools.ejabberd import PrivateEjabberd
from wschats.devtools.servers import WSCHATS, Person, Site, start_site

__all__ = ["PASSWORD", "ROOT", "START_TIMEOUT", "Person", "Site", "start_site"]

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
START_TIMEOUT = 180.0  # bounds a hang on a busy machine, not a speed requirement


@pytest.fixture(scope="session")
def web_build() -> Path:
    """web/dist, built by scripts/build-web.sh if it is missing or older than the sources."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "build-web.sh")], capture_output=True, text=True, timeout=900
    )
    dist = ROOT / "web" / "dist"
    assert (dist / "index.html").exists(), (
        f"the web client is not built:\n{done.stdout}{done.stderr}"
    )
    return dist


@pytest.fixture(scope="session")
def chat_site(web_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """wschats with a private ejabberd that signs people in with their wschats tokens."""
    tmp = tmp_path_factory.mktemp("web-chat")
    data = tmp / "data"
    data.mkdir()
    database = {"WSC_DATA_DIR": str(data), "WSC_DATABASE_URL": f"sqlite:///{data / 'wschats.db'}"}
    subprocess.run([WSCHATS, "migrate"], env={**os.environ, **database}, check=True, timeout=120)
    ejabberd = PrivateEjabberd(tmp / "ejabberd", database)
    ejabberd.start()
    try:
        site = start_site(
            tmp,
            {"WSC_XMPP": "ejabberd", "WSC_XMPP_URL": f"http://127.0.0.1:{ejabberd.http_port}/api"},
        )
        yield site
        site.server.stop()
    finally:
        ejabberd.stop()


# Module scope: the sync API keeps an event loop running on this thread while it is open, which
# the async tests of other modules could not share.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as value:
        yield value


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def open_as(browser: Browser) -> Iterator[Any]:
    """`open_as(site, person)`: a page of its own browser context, signed in by cookie."""
    contexts = []

    def open_page(site: Site, person: Person) -> Page:
        context = browser.new_context(viewport={"width": 1200, "height": 760})
        contexts.append(context)
        context.add_cookies([{"name": "ZM_AUTH_TOKEN", "value": person.token, "url": site.url}])
        page = context.new_page()
        page.goto(site.url)
        page.get_by_role("navigation", name="Rooms").wait_for()
        return page

    yield open_page
    for context in contexts:
        context.close()
