"""JSON rendering: `Content-Type: application/json` exactly, null fields omitted (D1)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from wschats.domain.model import Capabilities, Meeting
from wschats.domain.time import format_datetime
from wschats.domain.views import MemberView, RoomView, UserView


class JsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _dt(value: Any) -> str | None:
    return format_datetime(value) if value is not None else None


def room_json(view: RoomView) -> dict[str, Any]:
    room = view.room
    body = _compact(
        {
            "id": str(room.id),
            "name": room.name,
            "description": room.description,
            "type": room.type.value,
            "parentId": str(room.parent_id) if room.parent_id else None,
            "rank": view.rank,
            "meetingId": str(room.meeting_id) if room.meeting_id else None,
            "pictureUpdatedAt": _dt(room.picture_updated_at),
            "createdAt": _dt(room.created_at),
            "updatedAt": _dt(room.updated_at),
        }
    )
    if view.members is not None:
        body["members"] = [{"userId": str(m.user_id), "owner": m.owner} for m in view.members]
    if view.include_settings:
        settings = view.settings
        body["userSettings"] = _compact(
            {
                "muted": settings.muted if settings else False,
                "clearedAt": _dt(settings.cleared_at) if settings else None,
            }
        )
    if view.children is not None:
        body["children"] = [room_json(child) for child in view.children]
    return body


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
