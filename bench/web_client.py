"""Benchmark: the web client in headless Chromium against a real `wschats serve` (and ejabberd).

1. JavaScript + CSS the first screen needs, gzipped as the server sends it (target <= 150 KB;
   anchors cited, not measured here: Element Web and the Mattermost web app send several MB).
2. Sign-in until a list of 500 rooms is shown (baseline: the same with 1 room).
3. Opening a room whose archive holds 5,000 messages until its newest page is shown
   (baseline: a room with 10 messages).
4. A message typed in one browser until it is shown in another, p50/p99 over N messages
   (baseline: until the sender's own page shows it).

    .venv/bin/python bench/web_client.py [--rooms 500] [--archive 5000] [--messages 200]

Needs web/dist (scripts/build-web.sh), /usr/bin/chromium and ejabberd (scripts/ejabberd.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT
from wschats.devtools.chromium import CHROMIUM, CHROMIUM_ARGS
from wschats.devtools.ejabberd import PrivateEjabberd
from wschats.devtools.servers import WSCHATS, Person, Site, start_site

PASSWORD = "correct horse battery"

WAIT_MS = 600_000
DOMAIN = "carbonio"


def first_screen_bytes(site: Site) -> tuple[int, int]:
    """(raw, gzipped as sent) bytes of the scripts and styles index.html loads."""
    index = httpx.get(site.url).text
    assets = re.findall(r'(?:src|href)="([^"]*/assets/[^"]+\.(?:js|css))"', index)
    raw = sent = 0
    for asset in assets:
        response = httpx.get(site.server.url + asset, headers={"Accept-Encoding": "gzip"})
        raw += len(response.content)
        sent += response.num_bytes_downloaded
    return raw, sent


def sign_in(browser: Browser, site: Site, person: Person, rooms: int) -> float:
    context = browser.new_context(viewport={"width": 1200, "height": 760})
    page = context.new_page()
    page.goto(site.url)
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(PASSWORD)
    started = time.perf_counter()
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function(
        "n => document.querySelectorAll('nav[aria-label=Rooms] a').length >= n",
        arg=rooms,
        timeout=WAIT_MS,
        polling=10,
    )
    elapsed = time.perf_counter() - started
    context.close()
    return elapsed


def open_page(browser: Browser, site: Site, person: Person) -> Page:
    context = browser.new_context(viewport={"width": 1200, "height": 760})
    context.add_cookies([{"name": "ZM_AUTH_TOKEN", "value": person.token, "url": site.url}])
    page = context.new_page()
    page.goto(site.url)
    page.get_by_role("navigation", name="Rooms").wait_for()
    return page


def open_room(browser: Browser, site: Site, person: Person, name: str, last: str) -> float:
    page = open_page(browser, site, person)
    page.get_by_placeholder("Write a message").wait_for(timeout=WAIT_MS)  # XMPP is up
    started = time.perf_counter()
    page.get_by_role("navigation", name="Rooms").get_by_role("link", name=name).click()
    page.get_by_role("log").get_by_text(last, exact=True).wait_for(timeout=WAIT_MS)
    elapsed = time.perf_counter() - started
    page.context.close()
    return elapsed


async def fill_archive(api_url: str, room_id: str, sender: str, count: int, domain: str) -> None:
    """`count` messages into the room's archive, sent as `sender` through ejabberd's API."""
    room = f"{room_id}@muclight.{domain}"
    async with httpx.AsyncClient(base_url=api_url + "/", timeout=30) as client:
        for _ in range(600):  # the room reaches ejabberd through the outbox
            subscribers = (await client.post("get_subscribers", json=_room(room))).json()
            if isinstance(subscribers, list) and len(subscribers) >= 3:
                break
            await asyncio.sleep(0.1)
        gate = asyncio.Semaphore(8)

        async def one(index: int) -> None:
            stanza = (
                f"<message xmlns='jabber:client' type='groupchat' id='bench-{index}'>"
                f"<body>archived message {index}</body></message>"
            )
            async with gate:
                body = {"from": f"{sender}@{domain}", "to": room, "stanza": stanza}
                (await client.post("send_stanza", json=body)).raise_for_status()

        for start in range(0, count, 200):  # in order, roughly: the archive keeps arrival order
            await asyncio.gather(*(one(i) for i in range(start, min(start + 200, count))))


def _room(jid: str) -> dict[str, str]:
    name, service = jid.split("@", 1)
    return {"name": name, "service": service}


INSTALL_WATCH = """
() => {
  window.__seen = {};
  window.__sent = {};
  new MutationObserver(() => {
    for (const p of document.querySelectorAll('[role=log] .body')) {
      const m = /^lat-(\\d+)$/.exec(p.textContent);
      if (m && !(m[1] in window.__seen)) window.__seen[m[1]] = Date.now();
    }
  }).observe(document.body, { childList: true, subtree: true, characterData: true });
  document.addEventListener('keydown', (e) => {
    const box = e.target;
    if (e.key === 'Enter' && box.tagName === 'TEXTAREA') {
      const m = /^lat-(\\d+)$/.exec(box.value.trim());
      if (m) window.__sent[m[1]] = Date.now();
    }
  }, true);
}
"""


def latency(
    browser: Browser, site: Site, alice: Person, bob: Person, count: int
) -> tuple[list[float], list[float]]:
    sender, receiver = open_page(browser, site, alice), open_page(browser, site, bob)
    for page in (sender, receiver):
        page.get_by_role("navigation", name="Rooms").get_by_role("link", name="Latency").click()
        page.get_by_role("log").get_by_text("added", exact=False).first.wait_for(timeout=WAIT_MS)
        page.evaluate(INSTALL_WATCH)
    box = sender.get_by_label("Message", exact=True)
    for index in range(count):
        box.fill(f"lat-{index}")
        box.press("Enter")
        receiver.wait_for_function(
            f"() => '{index}' in window.__seen", timeout=WAIT_MS, polling="raf"
        )
        sender.wait_for_function(
            f"() => '{index}' in window.__seen", timeout=WAIT_MS, polling="raf"
        )
    sent = sender.evaluate("window.__sent")
    own = sender.evaluate("window.__seen")
    seen = receiver.evaluate("window.__seen")
    other = [float(seen[k] - sent[k]) for k in sent]
    echo = [float(own[k] - sent[k]) for k in sent]
    return other, echo


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def runs(seconds: list[float]) -> str:
    listed = ", ".join(f"{x * 1000:.0f}" for x in seconds)
    return f"best {min(seconds) * 1000:.0f} ms (runs {listed} ms)"


def spread(values: list[float]) -> str:
    median = statistics.median(values)
    return f"p50 {median:.0f} ms, p99 {pct(values, 0.99):.0f} ms, max {max(values):.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rooms", type=int, default=500)
    parser.add_argument("--archive", type=int, default=5000)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--skip-list", action="store_true", help="leave out the 500-room sign-in")
    args = parser.parse_args()
    assert (ROOT / "web" / "dist" / "index.html").exists(), "build first: scripts/build-web.sh"
    with tempfile.TemporaryDirectory() as tmp_name, sync_playwright() as playwright:
        tmp = Path(tmp_name)
        data = tmp / "data"
        data.mkdir()
        database = {
            "WSC_DATA_DIR": str(data),
            "WSC_DATABASE_URL": f"sqlite:///{data / 'wschats.db'}",
        }
        subprocess.run([WSCHATS, "migrate"], env={**database, "PATH": ""}, check=True)
        ejabberd = PrivateEjabberd(tmp / "ejabberd", database)
        ejabberd.run("start")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        site = start_site(
            tmp,
            {"WSC_XMPP": "ejabberd", "WSC_XMPP_URL": f"http://127.0.0.1:{ejabberd.http_port}/api"},
        )
        try:
            raw, sent = first_screen_bytes(site)
            print(f"first screen JS+CSS: {raw / 1024:.1f} KB raw, {sent / 1024:.1f} KB gzipped")
            print("  as sent (target <= 150 KB; Element Web, Mattermost: several MB, cited)")

            names = ("Few Rooms", "Many Rooms", "Bob Baker", "Carol Cook")
            few, many = (site.person(n, PASSWORD) for n in names[:2])
            bob, carol = (site.person(n) for n in names[2:])
            if not args.skip_list:
                site.group(few, "Only room", bob, carol)
                # The outbox also creates these rooms in ejabberd; the list does not wait for it.
                for index in range(args.rooms):
                    site.group(many, f"Room {index:04d}", bob, carol)
                baseline = [sign_in(browser, site, few, 1) for _ in range(3)]
                listed = [sign_in(browser, site, many, args.rooms) for _ in range(3)]
                print(f"sign-in until the list shows {args.rooms} rooms: {runs(listed)}")
                print(f"  baseline, 1 room: {runs(baseline)}")

            alice = site.person("Alice Archer")
            if args.archive:  # 0: leave the archive figure out
                small = site.group(alice, "Small archive", bob, carol)
                big = site.group(alice, "Big archive", bob, carol)
                api_url = f"http://127.0.0.1:{ejabberd.http_port}/api"
                # Bob stays connected while the archive fills: a subscriber who is offline gets
                # every message held by ejabberd at the next sign-in, which is another figure.
                online = open_page(browser, site, bob)
                # In a thread: Playwright's sync API keeps an event loop on this one.
                with ThreadPoolExecutor(1) as thread:
                    thread.submit(
                        asyncio.run, fill_archive(api_url, small, alice.id, 10, DOMAIN)
                    ).result()
                    started = time.perf_counter()
                    filling = fill_archive(api_url, big, alice.id, args.archive, DOMAIN)
                    thread.submit(asyncio.run, filling).result()
                print(
                    f"(archive of {args.archive} filled in {time.perf_counter() - started:.1f} s)"
                )
                last = f"archived message {args.archive - 1}"
                small_s = [open_room(browser, site, bob, "Small archive", "archived message 9")]
                big_s = [open_room(browser, site, bob, "Big archive", last) for _ in range(3)]
                print(
                    f"open a room of {args.archive} archived until its newest page: {runs(big_s)}"
                )
                print(f"  baseline, 10 archived: {runs(small_s)}")
                online.context.close()

            site.group(alice, "Latency", bob, carol)
            other, echo = latency(browser, site, alice, bob, args.messages)
            print(f"message latency browser to browser over {len(other)}: {spread(other)}")
            print(f"  baseline, the sender's own page: {spread(echo)}")
        finally:
            site.server.stop()
            browser.close()
            ejabberd.run("stop")


if __name__ == "__main__":
    main()
