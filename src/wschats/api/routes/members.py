from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from wschats.api.deps import Caller, RoomId, Services, UserId
from wschats.api.rendering import JsonResponse, member_json
from wschats.api.schemas import MemberToInsert

router = APIRouter(tags=["Members"])


@router.get("/rooms/{roomId}/members", operation_id="listRoomMember")
async def list_room_members(room_id: RoomId, caller: Caller, services: Services) -> Response:
    members = await services.members.list_members(caller, room_id)
    return JsonResponse([member_json(m) for m in members])


@router.post("/rooms/{roomId}/members", operation_id="insertRoomMember", status_code=201)
async def insert_room_member(
    room_id: RoomId, body: MemberToInsert, caller: Caller, services: Services
) -> Response:
    member = await services.members.add_member(
        caller, room_id, body.user_id, owner=body.owner, history_cleared=body.history_cleared
    )
    return JsonResponse(member_json(member), status_code=201)


@router.delete("/rooms/{roomId}/members/{userId}", operation_id="deleteRoomMember", status_code=204)
async def delete_room_member(
    room_id: RoomId, user_id: UserId, caller: Caller, services: Services
) -> Response:
    await services.members.remove_member(caller, room_id, user_id)
    return Response(status_code=204)


@router.put("/rooms/{roomId}/members/{userId}/owner", operation_id="updateToOwner", status_code=204)
async def promote(room_id: RoomId, user_id: UserId, caller: Caller, services: Services) -> Response:
    await services.members.set_owner(caller, room_id, user_id, owner=True)
    return Response(status_code=204)


@router.delete(
    "/rooms/{roomId}/members/{userId}/owner", operation_id="deleteOwner", status_code=204
)
async def demote(room_id: RoomId, user_id: UserId, caller: Caller, services: Services) -> Response:
    await services.members.set_owner(caller, room_id, user_id, owner=False)
    return Response(status_code=204)
