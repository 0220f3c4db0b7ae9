"""Request dependencies: the services container and the authenticated caller."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Path, Request
from starlette.requests import HTTPConnection

from wschats.api.server.limits import enforce_rate_limit
from wschats.container import Container
from wschats.domain.model import Principal

AUTH_COOKIE = "ZM_AUTH_TOKEN"


# Async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a thread hop on
# every request for an attribute read.
async def container(request: Request) -> Container:
    value = request.app.state.container
    assert isinstance(value, Container)
    return value


def request_token(request: HTTPConnection) -> str | None:
    """The `ZM_AUTH_TOKEN` cookie (the original's clients) or an `Authorization: Bearer`."""
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(AUTH_COOKIE) or None


async def authenticated(request: HTTPConnection, services: Container) -> Principal:
    """The caller, before any rate limit is spent: 401 without a valid token."""
    caller = await services.auth.authenticate(
        request_token(request), request.headers.get("queue-id")
    )
    request.state.principal = caller  # named in the request log (observability.PRINCIPAL_STATE)
    return caller


async def principal(
    request: Request, services: Annotated[Container, Depends(container)]
) -> Principal:
    caller = await authenticated(request, services)
    enforce_rate_limit(request, caller.user_id)
    return caller


Services = Annotated[Container, Depends(container)]
Caller = Annotated[Principal, Depends(principal)]

RoomId = Annotated[UUID, Path(alias="roomId")]
UserId = Annotated[UUID, Path(alias="userId")]
WorkspaceId = Annotated[UUID, Path(alias="workspaceId")]
FileId = Annotated[UUID, Path(alias="fileId")]
MeetingId = Annotated[UUID, Path(alias="meetingId")]
