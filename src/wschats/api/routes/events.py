"""The events websocket (/events): every event of the caller, to every socket of the caller.

First frame `{"type":"websocketConnected","queueId":...}`; `{"type":"ping"}` is answered with
`{"type":"pong"}`. A client that reads too slowly has its socket closed (its stream overflows)
rather than holding up anyone else; dead peers are found by the server's protocol pings.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from wschats.api.deps import request_token
from wschats.api.rendering import JsonResponse
from wschats.container import Container
from wschats.domain.errors import DomainError, Unauthorized
from wschats.domain.model import Principal
from wschats.ports import EventStream, StreamClosedError, StreamOverflowError

log = logging.getLogger(__name__)
router = APIRouter()

# Close codes: 1001 going away (server shutting down), 1008 policy violation (fell too far
# behind), 1011 server error.
_CLOSE_GOING_AWAY = 1001
_CLOSE_TOO_SLOW = 1008
_CLOSE_ERROR = 1011


@router.websocket("/events")
async def events(websocket: WebSocket) -> None:
    container: Container = websocket.app.state.container
    try:
        caller = await container.auth.authenticate(request_token(websocket), None)
    except DomainError as exc:
        status = 401 if isinstance(exc, Unauthorized) else 500
        await _refuse(websocket, status, exc.message)
        return
    queue_id = uuid.uuid4()
    stream = await container.events.subscribe(caller.user_id, queue_id)
    try:
        await websocket.accept()
        await websocket.send_text(
            json.dumps({"type": "websocketConnected", "queueId": str(queue_id)})
        )
        await _serve(websocket, caller, stream)
    finally:
        await stream.close()


async def _serve(websocket: WebSocket, caller: Principal, stream: EventStream) -> None:
    reader = asyncio.create_task(_read(websocket))
    writer = asyncio.create_task(_write(websocket, stream))
    done, pending = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    if writer in done and not writer.cancelled():
        failure = writer.exception()
        if isinstance(failure, StreamOverflowError):
            log.info("closing the events socket of %s: it fell behind", caller.user_id)
            await _close(websocket, _CLOSE_TOO_SLOW)
        elif isinstance(failure, StreamClosedError):
            await _close(websocket, _CLOSE_GOING_AWAY)
        elif failure is not None:
            log.error("events socket of %s failed: %s", caller.user_id, failure)
            await _close(websocket, _CLOSE_ERROR)


async def _read(websocket: WebSocket) -> None:
    """Answer pings; ignore anything else, as the original does."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            text = await websocket.receive_text()
            try:
                message = json.loads(text)
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("type") == "ping":
                await websocket.send_text('{"type":"pong"}')


async def _write(websocket: WebSocket, stream: EventStream) -> None:
    while True:
        await websocket.send_text(await stream.next())


async def _close(websocket: WebSocket, code: int) -> None:
    if websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await websocket.close(code)


async def _refuse(websocket: WebSocket, status: int, message: str) -> None:
    """Answer the handshake with a plain HTTP error (no upgrade) where the server allows it."""
    body = {"message": message, "traceId": uuid.uuid4().hex}
    try:
        await websocket.send_denial_response(JsonResponse(body, status_code=status))
    except RuntimeError:
        # The server does not support denial responses: a close before accept gives 403.
        await websocket.close(_CLOSE_ERROR if status >= 500 else 1008)
