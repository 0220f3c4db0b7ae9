"""The web client in Debian's Chromium against a real `wschats serve`: what a person sees.

Elements are found by role and label, as the issue names them; waits are Playwright's
expectations (bounded), never sleeps."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from PIL import Image
from playwright.sync_api import Browser, Locator, Page, expect

from tests.web.conftest import PASSWORD, ROOT, START_TIMEOUT, Person, Site, start_site

OpenAs = Callable[[Site, Person], Page]
WAIT_MS = 90_000  # a bound against a hang on a busy machine, not a speed requirement


def room_link(page: Page, name: str) -> Locator:
    rooms = page.get_by_role("navigation", name="Rooms")
    return rooms.get_by_role("link", name=re.compile("^" + re.escape(name)))


def open_room(page: Page, name: str) -> None:
    room_link(page, name).click()
    # The archive has been read once the members' arrival shows as sentences.
    expect(page.get_by_role("log")).to_contain_text("added", timeout=WAIT_MS)


def send(page: Page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def test_sign_in_with_email_and_password_then_sign_out(chat_site: Site, browser: Browser) -> None:
    alice = chat_site.person("Alice Archer", PASSWORD)
    context = browser.new_context()
    page = context.new_page()
    page.goto(chat_site.url)

    page.get_by_label("Email").fill(alice.email)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible(timeout=WAIT_MS)

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Rooms")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("Alice Archer")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=WAIT_MS)
    page.reload()  # the cookie is gone: still signed out
    expect(page.get_by_label("Email")).to_be_visible(timeout=WAIT_MS)
    context.close()


SLOW_FRAMES = """
(() => {
  let batch = [];
  window.requestAnimationFrame = (callback) => {
    if (batch.length === 0) {
      setTimeout(() => {
        const due = batch;
        batch = [];
        for (const f of due) f(performance.now());
      }, 30);
    }
    batch.push(callback);
    return batch.length;
  };
  window.cancelAnimationFrame = () => {};
})();
"""


def test_a_quick_first_answer_is_not_lost_before_the_page_listens(
    chat_site: Site, browser: Browser
) -> None:
    """The answer to the first request can arrive before the page's components subscribe to the
    store (their effects run after the first frame): the page must still leave "Loading…"."""
    context = browser.new_context()
    # Frames come late, as on a busy machine (but within the 35 ms after which Preact runs
    # effects without a frame): the first answer arrives before the first frame, and that
    # frame runs the store's re-render in the same batch as the callback that schedules effects.
    context.add_init_script(SLOW_FRAMES)
    page = context.new_page()
    for _ in range(5):  # the first answer's timing varies: a few tries meet the race
        page.goto(chat_site.url)
        expect(page.get_by_label("Email")).to_be_visible(timeout=WAIT_MS)
    context.close()


def test_two_people_chat_both_ways(chat_site: Site, open_as: OpenAs) -> None:
    alice, bob, carol = (chat_site.person(n) for n in ("Alice Archer", "Bob Baker", "Carol Cook"))
    chat_site.group(alice, "Launch plan", bob, carol)
    alice_page, bob_page = open_as(chat_site, alice), open_as(chat_site, bob)
    open_room(alice_page, "Launch plan")
    open_room(bob_page, "Launch plan")

    send(alice_page, "Shall we ship on Friday?")
    expect(bob_page.get_by_role("log")).to_contain_text("Shall we ship on Friday?", timeout=WAIT_MS)
    send(bob_page, "Friday works for me")

    alice_log = alice_page.get_by_role("log")
    expect(alice_log).to_contain_text("Friday works for me", timeout=WAIT_MS)
    expect(alice_log.get_by_role("article").last).to_contain_text("Bob Baker")


def test_a_member_added_sees_the_room_appear_and_a_removed_one_sees_it_vanish(
    chat_site: Site, open_as: OpenAs
) -> None:
    alice, bob, carol, dave = (
        chat_site.person(n) for n in ("Alice Archer", "Bob Baker", "Carol Cook", "Dave Dune")
    )
    room = chat_site.group(alice, "Design review", bob, carol)
    dave_page = open_as(chat_site, dave)
    link = room_link(dave_page, "Design review")
    expect(link).to_have_count(0)

    chat_site.api("POST", f"/rooms/{room}/members", alice, {"userId": dave.id, "owner": False})
    expect(link).to_have_count(1, timeout=WAIT_MS)

    chat_site.api("DELETE", f"/rooms/{room}/members/{dave.id}", alice)
    expect(link).to_have_count(0, timeout=WAIT_MS)


def png(path: Path) -> Path:
    image = Image.new("RGB", (640, 400), (36, 86, 199))
    for x in range(0, 640, 40):
        for y in range(0, 400, 40):
            if (x + y) // 40 % 2:
                image.paste((243, 167, 18), (x, y, x + 40, y + 40))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


def test_an_image_attachment_shows_its_thumbnail_in_the_other_browser(
    chat_site: Site, open_as: OpenAs, tmp_path: Path
) -> None:
    alice, bob, carol = (chat_site.person(n) for n in ("Alice Archer", "Bob Baker", "Carol Cook"))
    chat_site.group(alice, "Photos", bob, carol)
    alice_page, bob_page = open_as(chat_site, alice), open_as(chat_site, bob)
    open_room(alice_page, "Photos")
    open_room(bob_page, "Photos")
    send(alice_page, "Here is the new banner")

    alice_page.get_by_label("Attach file").set_input_files(str(png(tmp_path / "banner.png")))

    thumbnail = bob_page.get_by_role("img", name="Thumbnail of banner.png")
    expect(thumbnail).to_be_visible(timeout=WAIT_MS)
    bob_page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle()
    )
    send(bob_page, "Looks great!")
    expect(alice_page.get_by_role("log")).to_contain_text("Looks great!", timeout=WAIT_MS)
    expect(alice_page.get_by_role("img", name="Thumbnail of banner.png")).to_be_visible()
    bob_page.get_by_label("Message", exact=True).focus()
    bob_page.screenshot(path=str(ROOT / "docs" / "screenshot.png"))


def test_a_rename_shows_as_a_system_sentence(chat_site: Site, open_as: OpenAs) -> None:
    alice, bob, carol = (chat_site.person(n) for n in ("Alice Archer", "Bob Baker", "Carol Cook"))
    room = chat_site.group(alice, "Old name", bob, carol)
    bob_page = open_as(chat_site, bob)
    open_room(bob_page, "Old name")

    chat_site.api("PUT", f"/rooms/{room}", alice, {"name": "New name", "description": ""})

    expect(bob_page.get_by_role("log")).to_contain_text(
        "Alice Archer renamed the room to “New name”", timeout=WAIT_MS
    )
    expect(room_link(bob_page, "New name")).to_have_count(1)


def test_without_xmpp_everything_but_messages_works_and_the_page_says_why(
    web_build: Path, open_as: OpenAs, tmp_path: Path
) -> None:
    site = start_site(tmp_path)
    try:
        alice, bob = site.person("Alice Archer"), site.person("Bob Baker")
        page = open_as(site, alice)
        expect(page.get_by_role("status").first).to_contain_text("Messages are unavailable")

        page.get_by_role("button", name="New chat").click()
        page.get_by_label("Find people").fill("bob b")
        page.get_by_role("button", name=re.compile("^Add Bob Baker")).click()
        page.get_by_role("button", name="Start chat").click()

        expect(room_link(page, "Bob Baker")).to_have_count(1, timeout=WAIT_MS)
        expect(page.get_by_role("log")).to_contain_text("WSC_XMPP=none")
        expect(page.get_by_label("Message", exact=True)).to_be_disabled()
        notes = tmp_path / "notes.txt"
        notes.write_text("agenda\n")
        page.get_by_label("Attach file").set_input_files(str(notes))
        expect(page.get_by_role("link", name="Download notes.txt")).to_be_visible(timeout=WAIT_MS)
        bob_page = open_as(site, bob)
        expect(room_link(bob_page, "Alice Archer")).to_have_count(1)
    finally:
        site.server.stop()


def test_the_client_reconnects_after_the_server_restarts(
    web_build: Path, open_as: OpenAs, tmp_path: Path
) -> None:
    site = start_site(tmp_path)
    try:
        alice, bob, carol = (site.person(n) for n in ("Alice Archer", "Bob Baker", "Carol Cook"))
        page = open_as(site, bob)
        reconnecting = page.get_by_role("status").filter(has_text="Reconnecting")

        site.server.stop()
        expect(reconnecting).to_have_count(1, timeout=WAIT_MS)
        site.server.start(timeout=START_TIMEOUT)
        expect(reconnecting).to_have_count(0, timeout=WAIT_MS)

        site.group(alice, "After the restart", bob, carol)
        expect(room_link(page, "After the restart")).to_have_count(1, timeout=WAIT_MS)
    finally:
        site.server.stop()


def archive(site: Site, room_id: str, sender: Person, count: int) -> None:
    """`count` messages into the room's archive, sent as `sender` through ejabberd's API."""
    api_url = site.env["WSC_XMPP_URL"]
    room = {"name": room_id, "service": "muclight.carbonio"}
    with httpx.Client(base_url=api_url + "/", timeout=30) as client:
        for _ in range(300):  # bounded: the room reaches ejabberd through the outbox
            if len(client.post("get_subscribers", json=room).json()) >= 3:
                break
            time.sleep(0.1)
        for index in range(count):
            stanza = (
                f"<message xmlns='jabber:client' type='groupchat' id='old-{index}'>"
                f"<body>old message {index}</body></message>"
            )
            body = {"from": f"{sender.id}@carbonio", "to": f"{room_id}@muclight.carbonio"}
            client.post("send_stanza", json={**body, "stanza": stanza}).raise_for_status()


def test_history_pages_back_and_a_reply_and_a_forward_reach_the_others(
    chat_site: Site, open_as: OpenAs
) -> None:
    alice, bob, carol = (chat_site.person(n) for n in ("Alice Archer", "Bob Baker", "Carol Cook"))
    room = chat_site.group(alice, "Long story", bob, carol)
    chat_site.group(bob, "Elsewhere", alice, carol)
    archive(chat_site, room, alice, 70)  # one page is 50: message 0 needs a second
    alice_page, bob_page = open_as(chat_site, alice), open_as(chat_site, bob)
    log = bob_page.get_by_role("log")
    room_link(bob_page, "Long story").click()
    expect(log).to_contain_text("old message 69", timeout=WAIT_MS)

    log.focus()
    log.press("Home")  # scrolling to the top reads the page before (also a button)
    expect(log.get_by_text("old message 0", exact=True)).to_be_visible(timeout=WAIT_MS)
    expect(log).to_contain_text("This is the beginning of the conversation.")

    last = log.get_by_role("article").filter(has_text="old message 69").first  # not the reply
    last.get_by_role("button", name="Reply").click()
    send(bob_page, "Agreed with this one")
    room_link(alice_page, "Long story").click()
    reply = alice_page.get_by_role("log").get_by_role("article").filter(has_text="Agreed")
    expect(reply).to_contain_text("Alice Archer: old message 69", timeout=WAIT_MS)

    last.get_by_role("button", name="Forward").click()
    bob_page.get_by_role("dialog", name="Forward to").get_by_role(
        "button", name="Elsewhere"
    ).click()
    room_link(alice_page, "Elsewhere").click()
    # Found by what only the forward has: until "Elsewhere" is drawn, the log still shows
    # "Long story", where two articles hold "old message 69".
    forwarded = (
        alice_page.get_by_role("log")
        .get_by_role("article")
        .filter(has_text="Forwarded from Alice Archer")
    )
    expect(forwarded).to_contain_text("old message 69", timeout=WAIT_MS)
