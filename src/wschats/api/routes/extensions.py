"""Extensions the web client needs and the contract lacks (docs/web-client-extensions.md).

Under `/ext/`, a prefix the contract does not use; same authentication and error rules. They
are published in the server's /openapi.json (tag "Extensions"), not in the contract's copy.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from starlette.responses import Response

from wschats.api.deps import Caller, Services
from wschats.api.rendering import JsonResponse
from wschats.services.people import DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY_LENGTH

router = APIRouter(tags=["Extensions"])


class PersonFound(BaseModel):
    """One user found by `GET /ext/users` (the shape of `GET /users`, without chat data)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="the user's id", json_schema_extra={"format": "uuid"})
    email: str = Field(description="the user's email address")
    name: str = Field(description="the user's display name")
    type: Literal["internal", "guest"] = Field(
        description="the user's type, as `GET /users` gives it"
    )


class ClientConfig(BaseModel):
    """Where the web client finds the chat server, and how it may search for people."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel)

    user_id: str = Field(description="the caller's user id", json_schema_extra={"format": "uuid"})
    xmpp_websocket_url: str | None = Field(
        description="the XMPP-over-WebSocket (RFC 7395) address browsers connect to; "
        "null when messages cannot work"
    )
    xmpp_domain: str = Field(description="the XMPP domain users' addresses are in")
    xmpp_muc_service: str = Field(description="the MUC service rooms are in: <roomId>@<service>")
    jid: str | None = Field(
        description="the address the client signs in to XMPP as, with the caller's token as "
        "password; null when messages cannot work"
    )
    messaging_unavailable_reason: str | None = Field(
        description="why messages cannot work, a sentence to show as is; null when they can"
    )
    people_search: Literal["name-or-email", "user-id"] = Field(
        description="what `GET /ext/users` finds people by: any part of a name or email, "
        "or only an exact user id"
    )


@router.get(
    "/ext/users",
    operation_id="findPeople",
    summary="Find people by name or email",
    description="Users whose name or email contains the text, ignoring case, ordered by name "
    "then email (built-in identity); with the user-management identity only an exact user id "
    "finds someone. See docs/web-client-extensions.md.",
    response_model=list[PersonFound],
    response_description="The people found, at most `limit`",
)
async def find_people(
    caller: Caller,
    services: Services,
    query: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_QUERY_LENGTH,
            description="the text to look for; trimmed, and must not be blank",
        ),
    ],
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="the most people to answer")
    ] = DEFAULT_LIMIT,
) -> Response:
    found = await services.people.find(caller, query, limit)
    return JsonResponse(
        [{"id": str(u.id), "email": u.email, "name": u.name, "type": u.type.value} for u in found]
    )


@router.get(
    "/ext/client-config",
    operation_id="getClientConfig",
    summary="Where the web client finds the chat server",
    description="See docs/web-client-extensions.md.",
    response_model=ClientConfig,
    response_description="The caller's chat settings",
)
async def client_config(caller: Caller, services: Services) -> Response:
    config = services.client_config.for_caller(caller)
    return JsonResponse(
        {
            "userId": config.user_id,
            "xmppWebsocketUrl": config.websocket_url,
            "xmppDomain": config.domain,
            "xmppMucService": config.muc_service,
            "jid": config.jid,
            "messagingUnavailableReason": config.unavailable_reason,
            "peopleSearch": config.people_search,
        }
    )
