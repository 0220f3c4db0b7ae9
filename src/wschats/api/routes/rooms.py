from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from wschats.api.deps import Caller, RoomId, Services, WorkspaceId
from wschats.api.rendering import JsonResponse, listing_json, room_json
from wschats.api.schemas import RoomCreationFields, RoomEditableFields, RoomRanks
from wschats.domain.errors import BadRequest
from wschats.domain.time import format_datetime
from wschats.services.rooms import NewRoom, RankEntry, RoomChanges

router = APIRouter(tags=["Rooms"])

_EXTRA_FIELDS = {"members", "settings"}


def _extra_fields(values: list[str]) -> set[str]:
    chosen = {v.lower() for v in values}
    unknown = chosen - _EXTRA_FIELDS
    if unknown:
        raise BadRequest(
            f"Unknown extraFields value(s): {', '.join(sorted(unknown))}"
            " (allowed: members, settings; repeat the parameter for several)"
        )
    return chosen


@router.get("/rooms", operation_id="listRoom")
async def list_rooms(
    caller: Caller,
    services: Services,
    extra_fields: Annotated[list[str], Query(alias="extraFields")] = [],  # noqa: B006
) -> Response:
    extra = _extra_fields(extra_fields)
    views = await services.rooms.list_rooms(
        caller, with_members="members" in extra, with_settings="settings" in extra
    )
    return JsonResponse(listing_json(views))


@router.post("/rooms", operation_id="insertRoom", status_code=201)
async def insert_room(body: RoomCreationFields, caller: Caller, services: Services) -> Response:
    view = await services.rooms.create_room(
        caller,
        NewRoom(
            type=body.type,
            name=body.name,
            description=body.description,
            parent_id=body.parent_id,
            member_ids=tuple(body.members_ids or ()),
        ),
    )
    return JsonResponse(room_json(view), status_code=201)


@router.get("/rooms/{roomId}", operation_id="getRoom")
async def get_room(room_id: RoomId, caller: Caller, services: Services) -> Response:
    return JsonResponse(room_json(await services.rooms.get_room(caller, room_id)))


@router.put("/rooms/{roomId}", operation_id="updateRoom")
async def update_room(
    room_id: RoomId,
    body: RoomEditableFields,
    caller: Caller,
    services: Services,
) -> Response:
    view = await services.rooms.update_room(
        caller, room_id, RoomChanges(name=body.name, description=body.description)
    )
    return JsonResponse(room_json(view))


@router.delete("/rooms/{roomId}", operation_id="deleteRoom", status_code=204)
async def delete_room(room_id: RoomId, caller: Caller, services: Services) -> Response:
    await services.rooms.delete_room(caller, room_id)
    return Response(status_code=204)


@router.put("/rooms/{roomId}/mute", operation_id="muteRoom", status_code=204)
async def mute_room(room_id: RoomId, caller: Caller, services: Services) -> Response:
    await services.rooms.mute(caller, room_id, muted=True)
    return Response(status_code=204)


@router.delete("/rooms/{roomId}/mute", operation_id="unmuteRoom", status_code=204)
async def unmute_room(room_id: RoomId, caller: Caller, services: Services) -> Response:
    await services.rooms.mute(caller, room_id, muted=False)
    return Response(status_code=204)


@router.put("/rooms/{roomId}/clear", operation_id="clearRoomHistory")
async def clear_room_history(room_id: RoomId, caller: Caller, services: Services) -> Response:
    cleared_at = await services.rooms.clear_history(caller, room_id)
    return JsonResponse({"clearedAt": format_datetime(cleared_at)})


@router.put("/rooms/workspaces/rank", operation_id="updateWorkspacesRank", status_code=204)
async def update_workspaces_rank(body: RoomRanks, caller: Caller, services: Services) -> Response:
    await services.rooms.rank_workspaces(
        caller, [RankEntry(room_id=r.room_id, rank=r.rank) for r in body]
    )
    return Response(status_code=204)


@router.put(
    "/rooms/workspaces/{workspaceId}/channels/rank",
    operation_id="updateChannelsRank",
    status_code=204,
)
async def update_channels_rank(
    workspace_id: WorkspaceId,
    body: RoomRanks,
    caller: Caller,
    services: Services,
) -> Response:
    await services.rooms.rank_channels(
        caller, workspace_id, [RankEntry(room_id=r.room_id, rank=r.rank) for r in body]
    )
    return Response(status_code=204)
