"""Message forwarding (behaviour.md#forward)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BeforeValidator, Field
from starlette.responses import Response

from wschats.api.deps import Caller, RoomId, Services
from wschats.api.schemas import RequestModel, UtcDatetime
from wschats.api.server.limits import bounded_list
from wschats.services.attachments import ForwardRequest

router = APIRouter(tags=["Rooms", "Attachments"])


class ForwardMessageBody(RequestModel):
    original_message: str = Field(min_length=1)
    original_message_sent_at: UtcDatetime | None = None
    description: str | None = None


ForwardMessages = Annotated[list[ForwardMessageBody], BeforeValidator(bounded_list)]


@router.post("/rooms/{roomId}/forward", operation_id="forwardMessages", status_code=204)
async def forward_messages(
    room_id: RoomId, body: ForwardMessages, caller: Caller, services: Services
) -> Response:
    await services.attachments.forward(
        caller,
        room_id,
        [
            ForwardRequest(
                original_message=m.original_message,
                original_sent_at=m.original_message_sent_at,
                description=m.description,
            )
            for m in body
        ],
    )
    return Response(status_code=204)
