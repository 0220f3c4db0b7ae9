"""Attachments (behaviour.md#upload-attachment; DECISIONS.md#files)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from starlette.responses import Response

from wschats.api.deps import Caller, FileId, RoomId, Services
from wschats.api.downloads import ATTACHMENT_CACHE_CONTROL, file_response
from wschats.api.rendering import JsonResponse
from wschats.api.uploads import RequestBody, UploadHeaders, upload_headers
from wschats.domain.model import FileMetadata
from wschats.domain.time import format_datetime
from wschats.services.attachments import AttachmentUpload

router = APIRouter(tags=["Attachments"])


def attachment_json(metadata: FileMetadata) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(metadata.id),
        "name": metadata.name,
        "size": metadata.size,
        "mimeType": metadata.mime_type,
        "userId": str(metadata.user_id),
        "roomId": str(metadata.room_id),
        "createdAt": format_datetime(metadata.created_at),
    }
    if metadata.area is not None:
        body["area"] = metadata.area
    return body


@router.get("/rooms/{roomId}/attachments", operation_id="listRoomAttachmentInfo")
async def list_room_attachments(
    room_id: RoomId,
    caller: Caller,
    services: Services,
    items_number: Annotated[int | None, Query(alias="itemsNumber")] = None,
    cursor: Annotated[str | None, Query(alias="filter")] = None,
) -> Response:
    page = await services.attachments.list_attachments(caller, room_id, items_number, cursor)
    body: dict[str, Any] = {"attachments": [attachment_json(a) for a in page.attachments]}
    if page.filter is not None:
        body["filter"] = page.filter
    return JsonResponse(body)


@router.post("/rooms/{roomId}/attachments", operation_id="insertAttachment", status_code=201)
async def insert_attachment(
    room_id: RoomId,
    request: Request,
    # Declared before the caller: missing headers are a 400 even without credentials (behaviour.md).
    headers: Annotated[UploadHeaders, Depends(upload_headers)],
    caller: Caller,
    services: Services,
    description: Annotated[str | None, Header(alias="description")] = None,
    message_id: Annotated[str | None, Header(alias="messageId")] = None,
    reply_id: Annotated[str | None, Header(alias="replyId")] = None,
    area: Annotated[str | None, Header(alias="area")] = None,
) -> Response:
    file_id = await services.attachments.upload(
        caller,
        room_id,
        AttachmentUpload(
            file_name=headers.file_name,
            mime_type=headers.mime_type,
            declared_size=headers.content_length,
            chunks=RequestBody(request, headers.content_length),
            description=description,
            message_id=message_id,
            reply_id=reply_id,
            area=area,
        ),
    )
    return JsonResponse({"id": str(file_id)}, status_code=201)


@router.get("/attachments/{fileId}", operation_id="getAttachmentInfo")
async def get_attachment_info(file_id: FileId, caller: Caller, services: Services) -> Response:
    return JsonResponse(attachment_json(await services.attachments.attachment(caller, file_id)))


@router.get("/attachments/{fileId}/download", operation_id="getAttachment")
async def download_attachment(
    file_id: FileId, request: Request, caller: Caller, services: Services
) -> Response:
    metadata = await services.attachments.attachment(caller, file_id)
    return await file_response(
        request, metadata, services.attachments.read, cache_control=ATTACHMENT_CACHE_CONTROL
    )


@router.delete("/attachments/{fileId}", operation_id="deleteAttachment", status_code=204)
async def delete_attachment(file_id: FileId, caller: Caller, services: Services) -> Response:
    await services.attachments.delete(caller, file_id)
    return Response(status_code=204)
