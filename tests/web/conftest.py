"""A real `wschats serve` (with a private ejabberd, or without XMPP), the built web client, and
Debian's Chromium driven by Playwright (no browser download: `executable_path`)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.servers import WSCHATS, ServerProcess, free_port, server_env
from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.ports import NewUser

ROOT = Path(__file__).resolve().parents[2]
EJABBERD_SCRIPT = ROOT / "scripts" / "ejabberd.sh"
CHROMIUM = os.environ.get("WSC_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
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


@dataclass
class Person:
    id: str
    email: str
    name: str
    token: str


@dataclass
class Site:
    """One wschats server and the people in its directory."""

    server: ServerProcess
    env: dict[str, str]
    people: list[Person] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url + "/"

    def person(self, name: str, password: str | None = None) -> Person:
        """A directory user with a token (and a password, for the sign-in form)."""
        email = f"{name.split()[0].lower()}-{uuid.uuid4().hex[:6]}@example.com"
        # In a thread of its own: Playwright's sync API keeps an event loop on this one.
        with ThreadPoolExecutor(1) as thread:
            adding = add_person(self.env["WSC_DATABASE_URL"], email, name, password)
            user_id, token = thread.submit(asyncio.run, adding).result()
        found = Person(str(user_id), email, name, token)
        self.people.append(found)
        return found

    def api(self, method: str, path: str, person: Person, body: Any = None) -> httpx.Response:
        response = httpx.request(
            method,
            self.server.url + path,
            json=body,
            headers={"Authorization": f"Bearer {person.token}"},
            timeout=30,
        )
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        return response

    def group(self, owner: Person, name: str, *members: Person) -> str:
        body = {
            "type": "group",
            "name": name,
            "description": "",
            "membersIds": [m.id for m in members],
        }
        return str(self.api("POST", "/rooms", owner, body).json()["id"])


async def add_person(
    database_url: str, email: str, name: str, password: str | None
) -> tuple[uuid.UUID, str]:
    """Written straight into the server's directory: faster than the CLI, same rows."""
    database = SqlDatabase(database_url)
    try:
        directory = DirectoryIdentity(database)
        new = NewUser(email=email, name=name, password=password)
        (user_id,) = await directory.add_users([new])
        return user_id, await directory.issue_token(user_id, 3600)
    finally:
        await database.close()


def start_site(tmp: Path, extra: dict[str, str] | None = None) -> Site:
    data = tmp / "data"
    data.mkdir(parents=True, exist_ok=True)
    env = server_env(
        data, f"sqlite:///{data / 'wschats.db'}", {"WSC_LOG_FORMAT": "text", **(extra or {})}
    )
    server = ServerProcess(env=env, log_path=tmp / "serve.log")
    try:
        server.start(timeout=START_TIMEOUT)
    except BaseException:
        server.stop()  # a server that did not answer in time must not outlive the test
        raise
    return Site(server, env)


@dataclass
class PrivateEjabberd:
    directory: Path
    env: dict[str, str]
    http_port: int = field(default_factory=free_port)
    c2s_port: int = field(default_factory=free_port)

    def run(self, command: str) -> None:
        env = {
            **os.environ,
            **self.env,
            "WSC_EJABBERD_DIR": str(self.directory),
            "WSC_EJABBERD_C2S_PORT": str(self.c2s_port),
            "WSC_EJABBERD_HTTP_PORT": str(self.http_port),
            "WSC_EJABBERD_FRESH": "1",
        }
        done = subprocess.run(
            [str(EJABBERD_SCRIPT), command], env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, f"ejabberd {command}: {done.stdout}{done.stderr}"


@pytest.fixture(scope="session")
def chat_site(web_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """wschats with a private ejabberd that signs people in with their wschats tokens."""
    tmp = tmp_path_factory.mktemp("web-chat")
    data = tmp / "data"
    data.mkdir()
    database = {"WSC_DATA_DIR": str(data), "WSC_DATABASE_URL": f"sqlite:///{data / 'wschats.db'}"}
    subprocess.run([WSCHATS, "migrate"], env={**os.environ, **database}, check=True, timeout=120)
    ejabberd = PrivateEjabberd(tmp / "ejabberd", database)
    ejabberd.run("start")
    try:
        site = start_site(
            tmp,
            {"WSC_XMPP": "ejabberd", "WSC_XMPP_URL": f"http://127.0.0.1:{ejabberd.http_port}/api"},
        )
        yield site
        site.server.stop()
    finally:
        ejabberd.run("stop")


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
