"""Outbox commands stored by an older version still decode after fields were added."""

from __future__ import annotations

import json
from uuid import uuid4

from wschats.adapters.db.commands import decode_command, encode_command
from wschats.domain.messaging import RemoveRoomMember, RoomRetitled


def test_a_command_queued_before_a_field_existed_takes_its_default() -> None:
    room, sender, user = uuid4(), uuid4(), uuid4()
    # What the previous release stored: no actor_id.
    stored = json.dumps({"room_id": str(room), "sender_id": str(sender), "user_id": str(user)})

    command = decode_command("RemoveRoomMember", stored)

    assert command == RemoveRoomMember(room, sender, user, actor_id=None)


def test_new_commands_round_trip() -> None:
    removal = RemoveRoomMember(uuid4(), uuid4(), uuid4(), actor_id=uuid4())
    retitle = RoomRetitled(uuid4())
    for command in (removal, retitle):
        assert decode_command(*encode_command(command)) == command
