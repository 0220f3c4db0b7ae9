from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from wschats.api.deps import AUTH_COOKIE, Caller, Services
from wschats.api.rendering import JsonResponse
from wschats.api.schemas import LoginRequest

router = APIRouter(tags=["Authentication"])


@router.get("/auth/token", operation_id="getTokens")
async def get_token(caller: Caller) -> Response:
    return JsonResponse({"zmToken": caller.token})


@router.post("/auth/login", operation_id="login")
async def login(body: LoginRequest, request: Request, services: Services) -> Response:
    # Behind the deployment's proxy, uvicorn has already put the forwarded address here.
    address = request.client.host if request.client else ""
    token = await services.auth.login(body.email, body.password, address)
    response = JsonResponse({"zmToken": token})
    response.set_cookie(
        AUTH_COOKIE,
        token,
        max_age=services.settings.token_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=services.settings.cookie_secure,
        path="/",
    )
    return response


@router.delete("/auth/token", operation_id="logout", status_code=204)
async def logout(caller: Caller, services: Services) -> Response:
    await services.auth.logout(caller)
    await services.sessions.end(caller.user_id, caller.token)  # its event sockets, everywhere
    response = Response(status_code=204)
    response.delete_cookie(AUTH_COOKIE, path="/")
    return response
