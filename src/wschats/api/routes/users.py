from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from wschats.api.deps import Caller, Services, UserId
from wschats.api.rendering import JsonResponse, capabilities_json, user_json

router = APIRouter(tags=["Users"])


@router.get("/users", operation_id="getUsers")
async def get_users(
    caller: Caller,
    services: Services,
    user_ids: Annotated[list[str], Query(alias="userIds")] = [],  # noqa: B006
) -> Response:
    users = await services.users.get_users(caller, user_ids)
    return JsonResponse([user_json(u) for u in users])


# Declared before /users/{userId} so the literal path wins.
@router.get("/users/capabilities", operation_id="getCapabilities")
async def get_capabilities(caller: Caller, services: Services) -> Response:
    return JsonResponse(capabilities_json(services.users.capabilities()))


@router.get("/users/{userId}", operation_id="getUser")
async def get_user(user_id: UserId, caller: Caller, services: Services) -> Response:
    return JsonResponse(user_json(await services.users.get_user(caller, user_id)))
