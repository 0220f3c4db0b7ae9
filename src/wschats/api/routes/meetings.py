"""The meetings subset (DECISIONS.md#meetings) and the contract's GET /rooms/{roomId}/meeting."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from wschats.api.deps import Caller, MeetingId, RoomId, Services
from wschats.api.rendering import JsonResponse, meeting_json
from wschats.api.schemas import MeetingCreation

router = APIRouter(tags=["Meeting"])


@router.get("/rooms/{roomId}/meeting", operation_id="getMeetingByRoomId")
async def get_meeting_by_room(room_id: RoomId, caller: Caller, services: Services) -> Response:
    return JsonResponse(meeting_json(await services.meetings.meeting_of_room(caller, room_id)))


@router.get("/meetings", operation_id="listMeeting")
async def list_meetings(caller: Caller, services: Services) -> Response:
    return JsonResponse([meeting_json(m) for m in await services.meetings.list_meetings(caller)])


@router.post("/meetings", operation_id="createMeeting", status_code=201)
async def create_meeting(body: MeetingCreation, caller: Caller, services: Services) -> Response:
    meeting = await services.meetings.create_meeting(
        caller, body.room_id, body.meeting_type, body.name
    )
    return JsonResponse(meeting_json(meeting), status_code=201)


@router.get("/meetings/{meetingId}", operation_id="getMeeting")
async def get_meeting(meeting_id: MeetingId, caller: Caller, services: Services) -> Response:
    return JsonResponse(meeting_json(await services.meetings.get_meeting(caller, meeting_id)))


@router.delete("/meetings/{meetingId}", operation_id="deleteMeeting", status_code=204)
async def delete_meeting(meeting_id: MeetingId, caller: Caller, services: Services) -> Response:
    await services.meetings.delete_meeting(caller, meeting_id)
    return Response(status_code=204)
