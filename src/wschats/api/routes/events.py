"""The events websocket (/events): every event of the caller, to every socket of the caller.

First frame `{"type":"websocketConnected","queueId":...}`; `{"type":"ping"}` is answered with
`{"type":"pong"}`. A client that reads too slowly has its socket closed (its stream overflows)
rather than holding up anyone else; dead peers are found by the server's protocol pings.

Before the upgrade, a handshake is refused with a JSON body: 403 from a browser page of another
origin (`api.origins`), 401 without a valid token, 429 beyond the sockets allowed per user and
503 beyond those allowed per process (`services.sessions`). An open socket is closed with 1008
when its session ends (logout, revoked or expired token, disabled user). Text frames that are
not a JSON ping (invalid, deeply nested, oversized) are ignored; a binary frame closes the
socket with 1003, as this protocol has none.
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
from wschats.api.origins import allowed_origins, origin_allowed
from wschats.api.rendering import JsonResponse
from wschats.container import Container
from wschats.domain.errors import DomainError, Unauthorized
from wschats.domain.model import Principal
from wschats.ports import EventStream, SessionEndedError, StreamClosedError, StreamOverflowError
from wschats.services.sessions import TooManySockets, TooManyUserSockets

log = logging.getLogger(__name__)
router = APIRouter()

# Close codes: 1001 going away (server shutting down), 1003 unsupported data (a binary frame),
# 1008 policy violation (fell too far behind, or the session ended), 1011 server error.
_CLOSE_GOING_AWAY = 1001
_CLOSE_UNSUPPORTED = 1003
_CLOSE_POLICY = 1008
_CLOSE_ERROR = 1011
# Larger text frames are not parsed: a ping is 15 bytes.
_MAX_PARSED_FRAME = 1024
_REFUSALS: dict[type[DomainError], int] = {
    Unauthorized: 401,
    TooManyUserSockets: 429,
    TooManySockets: 503,
}


@router.websocket("/events")
async def events(websocket: WebSocket) -> None:
    container: Container = websocket.app.state.container
    if not origin_allowed(websocket, allowed_origins(container.settings.events_allowed_origins)):
        await _refuse(websocket, 403, "This page's origin may not open the events websocket")
        return
    queue_id = uuid.uuid4()
    try:
        caller = await container.auth.authenticate(request_token(websocket), None)
        stream = await container.sessions.open(caller, queue_id)
    except DomainError as exc:
        await _refuse(websocket, _REFUSALS.get(type(exc), 500), exc.message)
        return
    try:
        await websocket.accept()
        await websocket.send_text(
            json.dumps({"type": "websocketConnected", "queueId": str(queue_id)})
        )
        await _serve(websocket, caller, stream)
    finally:
        await container.sessions.release(stream)


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
            await _close(websocket, _CLOSE_POLICY, "too slow")
        elif isinstance(failure, SessionEndedError):
            log.info("closing the events socket of %s: its session ended", caller.user_id)
            await _close(websocket, _CLOSE_POLICY, "session ended")
        elif isinstance(failure, StreamClosedError):
            await _close(websocket, _CLOSE_GOING_AWAY)
        elif failure is not None:
            log.error("events socket of %s failed: %s", caller.user_id, failure)
            await _close(websocket, _CLOSE_ERROR)


async def _read(websocket: WebSocket) -> None:
    """Answer pings; ignore any other text, as the original does; end on a binary frame."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                return
            text = frame.get("text")
            if text is None:
                await _close(websocket, _CLOSE_UNSUPPORTED, "binary frames are not supported")
                return
            if _is_ping(text):
                await websocket.send_text('{"type":"pong"}')


def _is_ping(text: str) -> bool:
    if len(text) > _MAX_PARSED_FRAME:
        return False
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(message, dict) and message.get("type") == "ping"


async def _write(websocket: WebSocket, stream: EventStream) -> None:
    while True:
        await websocket.send_text(await stream.next())


async def _close(websocket: WebSocket, code: int, reason: str | None = None) -> None:
    if websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await websocket.close(code, reason)


async def _refuse(websocket: WebSocket, status: int, message: str) -> None:
    """Answer the handshake with a plain HTTP error (no upgrade) where the server allows it."""
    body = {"message": message, "traceId": uuid.uuid4().hex}
    try:
        await websocket.send_denial_response(JsonResponse(body, status_code=status))
    except RuntimeError:
        # The server does not support denial responses: a close before accept gives 403.
        await websocket.close(_CLOSE_ERROR if status >= 500 else 1008)
