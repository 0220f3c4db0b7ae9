"""The readable lines standard XMPP clients show for system messages."""

from __future__ import annotations

from uuid import uuid4

import pytest

from wschats.domain import system_texts as texts


@pytest.mark.parametrize(
    ("size", "shown"),
    [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (2_100_000, "2.1 MB"), (3 * 10**12, "3.0 TB")],
)
def test_file_sizes_read_in_decimal_units(size: int, shown: str) -> None:
    assert texts.file_size(size) == shown


def test_lines_name_people_and_fall_back_to_their_id() -> None:
    alice, bob, stranger = uuid4(), uuid4(), uuid4()
    names = {alice: "Alice", bob: "Bob"}
    assert texts.member_added(names, alice, bob) == "Alice added Bob"
    assert texts.member_removed(names, alice, bob) == "Alice removed Bob"
    assert texts.member_removed(names, bob, bob) == "Bob left"
    assert texts.room_renamed(names, alice, "Q4 plans") == "Alice renamed the room to “Q4 plans”"
    assert texts.member_added(names, alice, stranger) == f"Alice added {stranger}"
    shared = texts.file_shared(names, alice, "report.pdf", 2_100_000, "")
    assert shared == "Alice shared report.pdf (2.1 MB)"
    assert texts.file_shared(names, alice, "a.png", 10, "look") == "Alice shared a.png (10 B)\nlook"


def test_channels_are_titled_with_their_workspace() -> None:
    assert texts.room_title("Leads", "Sales") == "Sales / Leads"
    assert texts.room_title("Team", None) == "Team"
