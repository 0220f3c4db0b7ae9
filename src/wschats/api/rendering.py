"""JSON rendering: `Content-Type: application/json` exactly, no nulls (DECISIONS.md#serving)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import orjson
from starlette.responses import Response

from wschats.domain.model import Capabilities, Meeting, MemberRef, Subscription
from wschats.domain.time import format_datetime
from wschats.domain.views import MemberView, RoomView, UserView
from wschats.services.identity_memo import IdentityMemo


def _json_default(value: Any) -> str:
    # orjson writes uuid.UUID itself; PostgreSQL's driver returns a UUID type of its own.
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class JsonResponse(Response):
    """Bodies may hold UUIDs as they are: orjson writes them as canonical strings."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_json_default)


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _dt(value: Any) -> str | None:
    return format_datetime(value) if value is not None else None


# Rendered members: a user's rooms share most of their members, and a listing renders each
# of them once per room (a thousand for 100 rooms of 10). Repositories hand out one MemberRef
# per distinct member, so it is found by identity (hashing one costs a Python-level UUID hash).
_member_bytes: IdentityMemo[MemberRef, bytes] = IdentityMemo(100_000)


def _member_json(member: Subscription | MemberRef) -> bytes:
    return orjson.dumps({"userId": member.user_id, "owner": member.owner}, default=_json_default)


# Rendered member arrays, for the tuples of MemberRef the room listing hands out (one per
# distinct member list, reused across listings: see adapters/db/repositories/room_listing.py).
_members_fragments: IdentityMemo[tuple[MemberRef, ...], orjson.Fragment] = IdentityMemo(20_000)


def _members_json(members: Sequence[Subscription | MemberRef]) -> orjson.Fragment:
    """The members array, already serialised."""
    if isinstance(members, tuple) and members and type(members[0]) is MemberRef:
        return _members_fragments.get(members, _render_members)
    return _render_members(members)


def _render_members(members: Sequence[Subscription | MemberRef]) -> orjson.Fragment:
    parts = [
        _member_bytes.get(member, _member_json)
        if isinstance(member, MemberRef)
        else _member_json(member)
        for member in members
    ]
    return orjson.Fragment(b"[" + b",".join(parts) + b"]")


def room_json(view: RoomView) -> dict[str, Any]:
    # Built field by field rather than through _compact: a listing renders hundreds of rooms.
    room = view.room
    body: dict[str, Any] = {"id": room.id}
    if room.name is not None:
        body["name"] = room.name
    if room.description is not None:
        body["description"] = room.description
    body["type"] = room.type.value
    if room.parent_id is not None:
        body["parentId"] = room.parent_id
    if view.rank is not None:
        body["rank"] = view.rank
    if room.meeting_id is not None:
        body["meetingId"] = room.meeting_id
    if room.picture_updated_at is not None:
        body["pictureUpdatedAt"] = format_datetime(room.picture_updated_at)
    body["createdAt"] = format_datetime(room.created_at)
    body["updatedAt"] = format_datetime(room.updated_at)
    if view.members is not None:
        body["members"] = _members_json(view.members)
    if view.include_settings:
        settings = view.settings
        user_settings: dict[str, Any] = {"muted": settings.muted if settings else False}
        if settings is not None and settings.cleared_at is not None:
            user_settings["clearedAt"] = format_datetime(settings.cleared_at)
        body["userSettings"] = user_settings
    if view.children is not None:
        body["children"] = [room_json(child) for child in view.children]
    return body


# Rendered rooms of the room listing, by their view: the listing hands out the same view of a
# room while its row comes back unchanged, and nothing changes those views (services/rooms.py).
# A workspace (its channels are read anew each time) is rendered every time.
_listed_fragments: IdentityMemo[RoomView, orjson.Fragment] = IdentityMemo(5_000)


def _room_fragment(view: RoomView) -> orjson.Fragment:
    return orjson.Fragment(orjson.dumps(room_json(view), default=_json_default))


def listing_json(views: Sequence[RoomView]) -> list[Any]:
    """`room_json` of each view of a room listing, already serialised."""
    return [
        room_json(view)
        if view.children is not None
        else _listed_fragments.get(view, _room_fragment)
        for view in views
    ]


def member_json(member: MemberView) -> dict[str, Any]:
    return _compact(
        {"userId": str(member.user_id), "owner": member.owner, "clearedAt": _dt(member.cleared_at)}
    )


def user_json(user: UserView) -> dict[str, Any]:
    profile = user.profile
    return _compact(
        {
            "id": str(profile.id),
            "email": profile.email,
            "name": profile.name,
            "type": profile.type.value,
            "pictureUpdatedAt": _dt(user.chats.picture_updated_at) if user.chats else None,
            "statusMessage": user.chats.status_message if user.chats else None,
        }
    )


def capabilities_json(caps: Capabilities) -> dict[str, Any]:
    return {
        "canSeeMessageReads": caps.can_see_message_reads,
        "canSeeUsersPresence": caps.can_see_users_presence,
        "canVideoCall": caps.can_video_call,
        "canVideoCallRecord": caps.can_video_call_record,
        "canUseVirtualBackground": caps.can_use_virtual_background,
        "editMessageTimeLimitInMinutes": caps.edit_message_time_limit_in_minutes,
        "deleteMessageTimeLimitInMinutes": caps.delete_message_time_limit_in_minutes,
        "maxGroupMembers": caps.max_group_members,
        "maxRoomImageSizeInKb": caps.max_room_image_size_in_kb,
        "maxUserImageSizeInKb": caps.max_user_image_size_in_kb,
    }


def meeting_json(meeting: Meeting) -> dict[str, Any]:
    return _compact(
        {
            "id": str(meeting.id),
            "name": meeting.name,
            "roomId": str(meeting.room_id),
            "meetingType": meeting.type.value,
            "active": meeting.active,
            "createdAt": _dt(meeting.created_at),
            "startedAt": _dt(meeting.started_at),
            "participants": [
                _compact(
                    {
                        "userId": str(p.user_id),
                        "queueId": str(p.queue_id) if p.queue_id else None,
                        "audioStreamEnabled": p.audio,
                        "videoStreamEnabled": p.video,
                        "screenStreamEnabled": p.screen,
                        "joinedAt": _dt(p.joined_at),
                    }
                )
                for p in meeting.participants
            ],
        }
    )
