"""Extensions the web client needs and the contract lacks (docs/web-client-extensions.md).

Under `/ext/`, a prefix the contract does not use; same authentication and error rules.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from wschats.api.deps import Caller, Services
from wschats.api.rendering import JsonResponse
from wschats.services.people import DEFAULT_LIMIT

router = APIRouter(tags=["Extensions"], include_in_schema=False)


@router.get("/ext/users")
async def find_people(
    caller: Caller,
    services: Services,
    query: Annotated[str, Query()] = "",
    limit: Annotated[int, Query()] = DEFAULT_LIMIT,
) -> Response:
    found = await services.people.find(caller, query, limit)
    return JsonResponse(
        [{"id": str(u.id), "email": u.email, "name": u.name, "type": u.type.value} for u in found]
    )


@router.get("/ext/client-config")
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
