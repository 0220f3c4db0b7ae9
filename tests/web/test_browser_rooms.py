"""What a person does with rooms in the web client, in Debian's Chromium against a real
`wschats serve` with ejabberd: room settings, pictures, new chats found by name or email,
workspaces and channels in rank order, unread counts, drag and drop, the keyboard.

Elements are found by role and label; waits are Playwright's expectations (bounded by
WAIT_MS), never sleeps. A locator that could also match the room shown before (while the new one
is drawn) is narrowed to what only the target has."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Dialog, Locator, Page, Response, expect

from tests.web.conftest import Person, Site
from tests.web.test_browser import WAIT_MS, OpenAs, open_room, png, room_link, send


def settings(page: Page) -> Locator:
    """The room settings dialog of the open room."""
    page.get_by_role("button", name="Room settings").click()
    dialog = page.get_by_role("dialog", name="Room settings")
    expect(dialog).to_be_visible(timeout=WAIT_MS)
    return dialog


def accept_confirmations(page: Page) -> None:
    """`confirm()` questions ("Leave this room?") are answered yes."""

    def accept(dialog: Dialog) -> None:
        dialog.accept()

    page.on("dialog", accept)


def header(page: Page) -> Locator:
    """The open room's header (its picture, name and description)."""
    return page.get_by_role("main").locator("header.roomhead")


def loaded_picture(page: Page, place: Locator, path: str) -> None:
    """`place` shows a picture read from `path` (a room's or a user's), and it has loaded."""
    picture = place.locator(f"img.avatar[src*='{path}']")
    expect(picture).to_be_visible(timeout=WAIT_MS)
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0",
        arg=picture.first.element_handle(),
        timeout=WAIT_MS,
    )


def names_in_list(page: Page) -> list[str]:
    """The room names in the list, top to bottom."""
    nav = page.get_by_role("navigation", name="Rooms")
    return [text.strip() for text in nav.locator(".roomname").all_inner_texts()]


# ------------------------------------------------------------------------------------------
# Room settings


def test_the_owner_renames_describes_and_pictures_a_room_and_a_member_sees_it(
    chat_site: Site, open_as: OpenAs, tmp_path: Path
) -> None:
    alice, bob, carol = (chat_site.person(n) for n in ("Alice Archer", "Bob Baker", "Carol Cook"))
    room = chat_site.group(alice, "Draft", bob, carol)
    alice_page, bob_page = open_as(chat_site, alice), open_as(chat_site, bob)
    open_room(alice_page, "Draft")
    open_room(bob_page, "Draft")

    dialog = settings(alice_page)
    dialog.get_by_label("Name").fill("Roadmap 2027")
    dialog.get_by_label("Description").fill("What we build next year")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("status")).to_have_text("Saved", timeout=WAIT_MS)

    expect(bob_page.get_by_role("heading", name="Roadmap 2027", level=1)).to_be_visible(
        timeout=WAIT_MS
    )
    expect(header(bob_page)).to_contain_text("What we build next year", timeout=WAIT_MS)
    expect(room_link(bob_page, "Roadmap 2027")).to_have_count(1)
    expect(bob_page.get_by_role("log")).to_contain_text(
        "Alice Archer changed the description to “What we build next year”", timeout=WAIT_MS
    )

    dialog.get_by_label("Room picture").set_input_files(str(png(tmp_path / "roadmap.png")))
    expect(dialog.get_by_role("status")).to_have_text("Picture changed", timeout=WAIT_MS)
    loaded_picture(bob_page, room_link(bob_page, "Roadmap 2027"), f"rooms/{room}/picture")
    loaded_picture(bob_page, header(bob_page), f"rooms/{room}/picture")
    expect(bob_page.get_by_role("log")).to_contain_text(
        "Alice Archer changed the room picture", timeout=WAIT_MS
    )


def test_the_owner_adds_removes_and_promotes_members_and_a_member_leaves(
    chat_site: Site, open_as: OpenAs
) -> None:
    alice, bob, carol, dave = (
        chat_site.person(n) for n in ("Alice Archer", "Bob Baker", "Carol Cook", "Dave Dune")
    )
    chat_site.group(alice, "Crew", bob, carol)
    alice_page = open_as(chat_site, alice)
    bob_page, carol_page, dave_page = (open_as(chat_site, p) for p in (bob, carol, dave))
    open_room(alice_page, "Crew")
    dialog = settings(alice_page)
    members = dialog.get_by_role("list", name="Members")

    # Added: found by a part of the email address
    dialog.get_by_label("Find people").fill(dave.email.split("@")[0])
    dialog.get_by_role("button", name=re.compile("^Add Dave Dune")).click()
    dialog.get_by_role("button", name="Add members").click()
    expect(room_link(dave_page, "Crew")).to_have_count(1, timeout=WAIT_MS)
    expect(members).to_contain_text("Dave Dune", timeout=WAIT_MS)

    # Removed
    dialog.get_by_role("button", name="Remove Carol Cook").click()
    expect(room_link(carol_page, "Crew")).to_have_count(0, timeout=WAIT_MS)
    expect(dialog.get_by_role("button", name="Remove Carol Cook")).to_have_count(0, timeout=WAIT_MS)

    # Made an owner: Bob may now edit the room
    dialog.get_by_role("button", name="Make Bob Baker owner").click()
    expect(dialog.get_by_role("button", name="Remove Bob Baker as owner")).to_be_visible(
        timeout=WAIT_MS
    )
    open_room(bob_page, "Crew")
    bob_dialog = settings(bob_page)
    expect(bob_dialog.get_by_label("Name")).to_be_enabled(timeout=WAIT_MS)
    expect(bob_dialog.get_by_role("button", name="Make Dave Dune owner")).to_be_visible()

    # Leaves: the room vanishes from Bob's list, the others read that he left
    accept_confirmations(bob_page)
    bob_dialog.get_by_role("button", name="Leave").click()
    expect(room_link(bob_page, "Crew")).to_have_count(0, timeout=WAIT_MS)
    expect(alice_page.get_by_role("log")).to_contain_text("Bob Baker left", timeout=WAIT_MS)
    expect(dialog.get_by_role("button", name="Remove Bob Baker")).to_have_count(0, timeout=WAIT_MS)


def test_mute_marks_the_room_and_clearing_the_history_empties_it_only_for_that_person(
    chat_site: Site, open_as: OpenAs
) -> None:
    alice, bob, carol = (chat_site.person(n) for n in ("Alice Archer", "Bob Baker", "Carol Cook"))
    chat_site.group(alice, "Chatter", bob, carol)
    alice_page, bob_page = open_as(chat_site, alice), open_as(chat_site, bob)
    open_room(alice_page, "Chatter")
    open_room(bob_page, "Chatter")
    send(alice_page, "Remember the milk")
    expect(bob_page.get_by_role("log")).to_contain_text("Remember the milk", timeout=WAIT_MS)

    dialog = settings(bob_page)
    dialog.get_by_role("button", name="Mute").click()
    expect(room_link(bob_page, "Chatter")).to_contain_text("(muted)", timeout=WAIT_MS)
    expect(dialog.get_by_role("button", name="Unmute")).to_be_visible()
    expect(room_link(alice_page, "Chatter")).not_to_contain_text("(muted)")

    accept_confirmations(bob_page)
    dialog.get_by_role("button", name="Clear history").click()
    expect(dialog.get_by_role("status")).to_have_text("History cleared", timeout=WAIT_MS)
    expect(bob_page.get_by_role("log")).not_to_contain_text("Remember the milk", timeout=WAIT_MS)

    bob_page.reload()
    room_link(bob_page, "Chatter").click()
    log = bob_page.get_by_role("log")
    expect(log).to_contain_text("This is the beginning of the conversation.", timeout=WAIT_MS)
    expect(log).not_to_contain_text("Remember the milk")
    expect(room_link(bob_page, "Chatter")).to_contain_text("(muted)")  # kept by the server

    alice_page.reload()
    room_link(alice_page, "Chatter").click()
    expect(alice_page.get_by_role("log")).to_contain_text("Remember the milk", timeout=WAIT_MS)


def test_deleting_a_room_removes_it_for_every_member_at_once(
    chat_site: Site, open_as: OpenAs
) -> None:
    alice, bob, carol = (chat_site.person(n) for n in ("Alice Archer", "Bob Baker", "Carol Cook"))
    chat_site.group(alice, "Short lived", bob, carol)
    alice_page, bob_page = open_as(chat_site, alice), open_as(chat_site, bob)
    open_room(alice_page, "Short lived")
    open_room(bob_page, "Short lived")

    accept_confirmations(alice_page)
    settings(alice_page).get_by_role("button", name="Delete room").click()

    for page in (alice_page, bob_page):
        expect(room_link(page, "Short lived")).to_have_count(0, timeout=WAIT_MS)
        expect(page.get_by_text("Pick a room on the left")).to_be_visible(timeout=WAIT_MS)


# ------------------------------------------------------------------------------------------
# Profile picture


def test_a_profile_picture_shows_beside_the_messages_and_the_one_to_one(
    chat_site: Site, open_as: OpenAs, tmp_path: Path
) -> None:
    alice, bob = chat_site.person("Alice Archer"), chat_site.person("Bob Baker")
    chat_site.api("POST", "/rooms", alice, {"type": "one_to_one", "membersIds": [bob.id]})
    alice_page, bob_page = open_as(chat_site, alice), open_as(chat_site, bob)
    open_room(alice_page, "Bob Baker")
    open_room(bob_page, "Alice Archer")
    send(alice_page, "Do you like my new picture?")
    message = bob_page.get_by_role("log").get_by_role("article").filter(has_text="new picture")
    expect(message).to_have_count(1, timeout=WAIT_MS)

    alice_page.get_by_label("Profile picture").set_input_files(str(png(tmp_path / "me.png")))

    picture = f"users/{alice.id}/picture"
    loaded_picture(bob_page, message, picture)
    loaded_picture(bob_page, room_link(bob_page, "Alice Archer"), picture)
    loaded_picture(bob_page, header(bob_page), picture)
    # Read again after a reload too: the picture is the user's, not the page's memory
    bob_page.reload()
    loaded_picture(bob_page, room_link(bob_page, "Alice Archer"), picture)


def test_a_person_in_no_room_yet_sees_their_own_new_picture(
    chat_site: Site, open_as: OpenAs, tmp_path: Path
) -> None:
    erin = chat_site.person("Erin Early")
    page = open_as(chat_site, erin)

    page.get_by_label("Profile picture").set_input_files(str(png(tmp_path / "erin.png")))

    loaded_picture(page, page.get_by_role("banner"), f"users/{erin.id}/picture")


# ------------------------------------------------------------------------------------------
# New chats with people found by name or email


def test_a_one_to_one_and_a_group_start_with_people_found_by_name_or_email(
    chat_site: Site, open_as: OpenAs
) -> None:
    # A name no other test gives: the search answers ten people at most.
    alice, bob, carol = (
        chat_site.person(n) for n in ("Alice Archer", "Quentin Quill", "Carol Cook")
    )
    alice_page, bob_page, carol_page = (open_as(chat_site, p) for p in (alice, bob, carol))

    alice_page.get_by_role("button", name="New chat").click()
    dialog = alice_page.get_by_role("dialog", name="New chat")
    dialog.get_by_label("Find people").fill("QUENTIN qu")  # any part of the name, any case
    dialog.get_by_role("button", name=f"Add Quentin Quill ({bob.email})").click()
    dialog.get_by_role("button", name="Start chat").click()
    expect(alice_page.get_by_role("heading", name="Quentin Quill", level=1)).to_be_visible(
        timeout=WAIT_MS
    )
    expect(room_link(bob_page, "Alice Archer")).to_have_count(1, timeout=WAIT_MS)
    send(alice_page, "Just the two of us")
    room_link(bob_page, "Alice Archer").click()
    expect(bob_page.get_by_role("log")).to_contain_text("Just the two of us", timeout=WAIT_MS)

    alice_page.get_by_role("button", name="New chat").click()
    dialog = alice_page.get_by_role("dialog", name="New chat")
    dialog.get_by_label("Find people").fill(bob.email)  # the whole address
    dialog.get_by_role("button", name=re.compile("^Add Quentin Quill")).click()
    dialog.get_by_label("Find people").fill(carol.email.split("@")[0])  # a part of it
    dialog.get_by_role("button", name=re.compile("^Add Carol Cook")).click()
    expect(dialog.get_by_role("list", name="Chosen people")).to_contain_text("Carol Cook")
    dialog.get_by_label("Group name").fill("Three of us")
    dialog.get_by_role("button", name="Start group").click()

    expect(alice_page.get_by_role("heading", name="Three of us", level=1)).to_be_visible(
        timeout=WAIT_MS
    )
    for page in (bob_page, carol_page):
        expect(room_link(page, "Three of us")).to_have_count(1, timeout=WAIT_MS)
    send(alice_page, "Welcome, both")
    room_link(carol_page, "Three of us").click()
    expect(carol_page.get_by_role("log")).to_contain_text("Welcome, both", timeout=WAIT_MS)


# ------------------------------------------------------------------------------------------
# Workspaces and channels


def create_named(page: Page, opener: str, title: str, name: str, *members: Person) -> None:
    page.get_by_role("button", name=opener).click()
    dialog = page.get_by_role("dialog", name=title)
    dialog.get_by_label("Name", exact=True).fill(name)
    for person in members:
        dialog.get_by_label("Find people").fill(person.email)
        dialog.get_by_role("button", name=f"Add {person.name} ({person.email})").click()
    dialog.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible(timeout=WAIT_MS)


def room_id(page: Page, name: str) -> str:
    return str(room_link(page, name).get_attribute("href")).rsplit("/", 1)[-1]


def ranks_saved(page: Page, first: str) -> Callable[[Response], bool]:
    """The answer to the save of ranks that puts the room named `first` first."""
    wanted = room_id(page, first)

    def match(response: Response) -> bool:
        if response.request.method != "PUT" or not response.url.endswith("/rank"):
            return False
        ranks = response.request.post_data_json
        return isinstance(ranks, list) and ranks[:1] == [{"roomId": wanted, "rank": 1}]

    return match


def test_workspaces_and_channels_are_listed_in_rank_order_which_persists(
    chat_site: Site, open_as: OpenAs
) -> None:
    alice, bob, carol = (chat_site.person(n) for n in ("Alice Archer", "Bob Baker", "Carol Cook"))
    page = open_as(chat_site, alice)
    for name in ("Zeta works", "Alpha works"):  # a workspace has three members at least
        create_named(page, "New workspace", "New workspace", name, bob, carol)
    for name in ("general", "random", "builds"):
        create_named(page, "New channel in Zeta works", "New channel", name)
    expect(room_link(page, "builds")).to_have_count(1, timeout=WAIT_MS)
    expected = ["Zeta works", "general", "random", "builds", "Alpha works"]

    def listed() -> list[str]:
        return [n for n in names_in_list(page) if n in expected]

    # New ones come last, in the order they were made.
    assert listed() == expected, listed()

    # The new order shows before it is saved: the saves are awaited, as a reload would cut one
    # short. "builds" moves up twice in a row, without waiting for the list to be drawn again.
    with page.expect_response(ranks_saved(page, "Alpha works"), timeout=WAIT_MS) as save:
        page.get_by_role("button", name="Move Alpha works up").click()
    assert save.value.status == 204
    with page.expect_response(ranks_saved(page, "builds"), timeout=WAIT_MS) as save:
        page.get_by_role("button", name="Move builds up").click()
        page.get_by_role("button", name="Move builds up").click()
    assert save.value.status == 204
    expected = ["Alpha works", "Zeta works", "builds", "general", "random"]
    expect(page.get_by_role("button", name="Move builds up")).to_be_disabled(timeout=WAIT_MS)
    expect(page.get_by_role("button", name="Move Alpha works up")).to_be_disabled()
    assert listed() == expected, listed()

    page.reload()
    expect(room_link(page, "builds")).to_have_count(1, timeout=WAIT_MS)
    assert listed() == expected, listed()

    # The channels' order is the workspace's, the same for its members.
    bob_page = open_as(chat_site, bob)
    expect(room_link(bob_page, "builds")).to_have_count(1, timeout=WAIT_MS)
    channels = [n for n in names_in_list(bob_page) if n in ("general", "random", "builds")]
    assert channels == ["builds", "general", "random"], channels


# ------------------------------------------------------------------------------------------
# Unread counts


def unread(count: int) -> re.Pattern[str]:
    """The badge of exactly `count` unread messages ("2 unread", not "12 unread")."""
    return re.compile(rf"(^|\D){count} unread")


def test_unread_counts_rise_in_rooms_not_open_clear_on_opening_and_survive_a_reload(
    chat_site: Site, open_as: OpenAs
) -> None:
    alice, bob, carol = (chat_site.person(n) for n in ("Alice Archer", "Bob Baker", "Carol Cook"))
    chat_site.group(alice, "Front desk", bob, carol)
    chat_site.group(alice, "Back office", bob, carol)
    alice_page, bob_page = open_as(chat_site, alice), open_as(chat_site, bob)
    open_room(alice_page, "Front desk")
    open_room(bob_page, "Back office")
    back_office = room_link(alice_page, "Back office")

    send(bob_page, "First news")
    expect(back_office).to_contain_text(unread(1), timeout=WAIT_MS)
    send(bob_page, "Second news")
    expect(back_office).to_contain_text(unread(2), timeout=WAIT_MS)
    expect(room_link(alice_page, "Front desk")).not_to_contain_text("unread")

    alice_page.reload()
    expect(room_link(alice_page, "Back office")).to_contain_text(unread(2), timeout=WAIT_MS)

    room_link(alice_page, "Back office").click()
    expect(alice_page.get_by_role("log")).to_contain_text("Second news", timeout=WAIT_MS)
    expect(room_link(alice_page, "Back office")).not_to_contain_text("unread")
    alice_page.reload()
    expect(room_link(alice_page, "Front desk")).to_have_count(1, timeout=WAIT_MS)
    expect(room_link(alice_page, "Back office")).not_to_contain_text("unread")


# ------------------------------------------------------------------------------------------
# Drag and drop, keyboard


DROP = """
async ([selector, name, size]) => {
  const data = new DataTransfer();
  data.items.add(new File([new Uint8Array(size).fill(65)], name, { type: "text/plain" }));
  const target = document.querySelector(selector);
  for (const type of ["dragover", "drop"]) {
    const init = { bubbles: true, cancelable: true, dataTransfer: data };
    target.dispatchEvent(new DragEvent(type, init));
  }
}
"""


def test_a_file_dropped_on_the_room_uploads_with_a_progress_bar_and_shows_as_a_card(
    chat_site: Site, open_as: OpenAs
) -> None:
    alice, bob, carol = (chat_site.person(n) for n in ("Alice Archer", "Bob Baker", "Carol Cook"))
    chat_site.group(alice, "Paperwork", bob, carol)
    alice_page, bob_page = open_as(chat_site, alice), open_as(chat_site, bob)
    open_room(alice_page, "Paperwork")
    open_room(bob_page, "Paperwork")
    # A slow uplink, so that the upload lasts long enough to be seen.
    network = alice_page.context.new_cdp_session(alice_page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 64_000},
    )

    alice_page.evaluate(DROP, ["main.room .log", "minutes.txt", 256_000])

    progress = alice_page.get_by_role("progressbar", name="Uploading minutes.txt")
    expect(progress).to_be_visible(timeout=WAIT_MS)
    expect(progress).to_have_count(0, timeout=WAIT_MS)
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    for page in (alice_page, bob_page):
        card = page.get_by_role("log").get_by_role("article").filter(has_text="minutes.txt")
        expect(card.get_by_role("link", name="Download minutes.txt")).to_be_visible(timeout=WAIT_MS)
        expect(card).to_contain_text("250.0 KB")
    expect(alice_page.get_by_role("alert")).to_have_count(0)


def tab_to(page: Page, target: Locator, presses: int = 40) -> None:
    """Presses Tab until `target` has the focus (at most `presses` times)."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{target} is not reached with Tab")


def test_the_main_flow_works_from_the_keyboard(chat_site: Site, open_as: OpenAs) -> None:
    alice, bob, carol = (chat_site.person(n) for n in ("Alice Archer", "Bob Baker", "Carol Cook"))
    chat_site.group(alice, "Keyboard club", bob, carol)
    alice_page, bob_page = open_as(chat_site, alice), open_as(chat_site, bob)
    open_room(bob_page, "Keyboard club")

    tab_to(alice_page, room_link(alice_page, "Keyboard club"))
    alice_page.keyboard.press("Enter")
    expect(alice_page.get_by_role("heading", name="Keyboard club", level=1)).to_be_visible(
        timeout=WAIT_MS
    )
    expect(alice_page.get_by_role("log")).to_contain_text("added", timeout=WAIT_MS)
    box = alice_page.get_by_label("Message", exact=True)
    expect(box).to_be_enabled(timeout=WAIT_MS)
    tab_to(alice_page, box)
    alice_page.keyboard.type("Typed without a mouse")
    alice_page.keyboard.press("Enter")

    expect(bob_page.get_by_role("log")).to_contain_text("Typed without a mouse", timeout=WAIT_MS)
    expect(box).to_have_value("", timeout=WAIT_MS)

    # The room settings open and close from the keyboard too.
    tab_to(alice_page, alice_page.get_by_role("button", name="Room settings"))
    alice_page.keyboard.press("Enter")
    expect(alice_page.get_by_role("dialog", name="Room settings")).to_be_visible(timeout=WAIT_MS)
    alice_page.keyboard.press("Escape")
    expect(alice_page.get_by_role("dialog", name="Room settings")).to_have_count(0, timeout=WAIT_MS)


# The broad search's answer is held back until the narrow one has been shown.
SLOW_BROAD_SEARCH = """
(() => {
  const realFetch = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const address = String(input instanceof Request ? input.url : input);
    if (address.includes("ext/users") && address.includes("query=Cook&")) {
      const response = await realFetch(input, init);
      await new Promise((resolve) => {
        const waitForNarrow = () =>
          document.querySelector('[aria-label="People found"] button')
            ? resolve(null)
            : setTimeout(waitForNarrow, 20);
        waitForNarrow();
      });
      const body = await response.text();
      window.broadSearchAnswered = true;
      return new Response(body, { status: response.status, headers: response.headers });
    }
    return realFetch(input, init);
  };
})();
"""


def test_an_older_search_answer_does_not_replace_a_newer_one(
    chat_site: Site, open_as: OpenAs
) -> None:
    alice, carol = (chat_site.person(n) for n in ("Alice Archer", "Carol Cook"))
    chat_site.person("Cooper Cook")  # the broad search finds more than Carol
    page = open_as(chat_site, alice)
    page.context.add_init_script(SLOW_BROAD_SEARCH)
    page.reload()
    page.get_by_role("navigation", name="Rooms").wait_for()

    page.get_by_role("button", name="New chat").click()
    dialog = page.get_by_role("dialog", name="New chat")
    dialog.get_by_label("Find people").fill("Cook")
    dialog.get_by_label("Find people").fill(carol.email)
    found = dialog.get_by_role("list", name="People found").get_by_role("button")
    expect(found).to_have_count(1, timeout=WAIT_MS)
    page.wait_for_function("window.broadSearchAnswered === true", timeout=WAIT_MS)
    # Two frames after the late answer: time enough for it to be drawn, had it been kept.
    page.evaluate("new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    expect(found).to_have_count(1)
    expect(found).to_have_text(re.compile("Carol Cook"))
