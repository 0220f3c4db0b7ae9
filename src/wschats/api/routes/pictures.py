"""Room and user pictures (behaviour.md#set-room-picture, #set-user-picture)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from wschats.api.deps import Caller, RoomId, Services, UserId
from wschats.api.downloads import PICTURE_CACHE_CONTROL, file_response
from wschats.api.uploads import UploadHeaders, body_stream, upload_headers
from wschats.services.pictures import PictureUpload

router = APIRouter()

# Declared before the caller in each upload: missing headers are a 400 even without
# credentials, as the original validated them first (behaviour.md#authentication).
Headers = Annotated[UploadHeaders, Depends(upload_headers)]


def _upload(request: Request, headers: UploadHeaders) -> PictureUpload:
    return PictureUpload(
        file_name=headers.file_name,
        mime_type=headers.mime_type,
        declared_size=headers.content_length,
        chunks=body_stream(request, headers.content_length),
    )


@router.get("/rooms/{roomId}/picture", operation_id="getRoomPicture", tags=["Rooms"])
async def get_room_picture(
    room_id: RoomId, request: Request, caller: Caller, services: Services
) -> Response:
    picture = await services.pictures.room_picture(caller, room_id)
    return await file_response(
        request, picture, services.pictures.read, cache_control=PICTURE_CACHE_CONTROL
    )


@router.put(
    "/rooms/{roomId}/picture", operation_id="updateRoomPicture", status_code=204, tags=["Rooms"]
)
async def update_room_picture(
    room_id: RoomId, request: Request, headers: Headers, caller: Caller, services: Services
) -> Response:
    await services.pictures.set_room_picture(caller, room_id, _upload(request, headers))
    return Response(status_code=204)


@router.delete(
    "/rooms/{roomId}/picture", operation_id="deleteRoomPicture", status_code=204, tags=["Rooms"]
)
async def delete_room_picture(room_id: RoomId, caller: Caller, services: Services) -> Response:
    await services.pictures.delete_room_picture(caller, room_id)
    return Response(status_code=204)


@router.get("/users/{userId}/picture", operation_id="getUserPicture", tags=["Users"])
async def get_user_picture(
    user_id: UserId, request: Request, caller: Caller, services: Services
) -> Response:
    picture = await services.pictures.user_picture(caller, user_id)
    return await file_response(
        request, picture, services.pictures.read, cache_control=PICTURE_CACHE_CONTROL
    )


@router.put(
    "/users/{userId}/picture", operation_id="updateUserPicture", status_code=204, tags=["Users"]
)
async def update_user_picture(
    user_id: UserId, request: Request, headers: Headers, caller: Caller, services: Services
) -> Response:
    await services.pictures.set_user_picture(caller, user_id, _upload(request, headers))
    return Response(status_code=204)


@router.delete(
    "/users/{userId}/picture", operation_id="deleteUserPicture", status_code=204, tags=["Users"]
)
async def delete_user_picture(user_id: UserId, caller: Caller, services: Services) -> Response:
    await services.pictures.delete_user_picture(caller, user_id)
    return Response(status_code=204)
