"""authentication_service / profiling_service through the original's user-management HTTP service.

Lets wschats replace the original inside a deployment (DECISIONS.md#identity). The requests
are the ones the original made (behaviour.md#authentication, #health, #get-user), through the
SDK (zextras/carbonio-user-management-sdk, `UserManagementClient.java`):

- `GET {url}/users/myself/` with `Cookie: ZM_AUTH_TOKEN=<token>`: the caller's profile.
- `GET {url}/users/id/{userId}` with the caller's cookie: one user.
- `GET {url}/users/?userIds=a&userIds=b` with the caller's cookie: several users, one call.
- `GET {url}/health/`, no cookie: health of both authentication and profiling.

The events websocket authenticates with `/users/myself/` too (the original used
`GET /auth/token/{token}` there, behaviour.md#events-websocket): one cached lookup serves both,
appears in a URL (and so in no access log).

Response bodies, as the SDK's entities `UserMyself` and `UserInfo` (SDK 0.5.x) read them:

    {"id": {"userId": "<uuid>"}, "email": "a@b.c", "fullName": "Name", "domain": "b.c",
     "status": "ACTIVE", "type": "INTERNAL" | "GUEST", "locale": "en", ...}

and `/users/` answers a JSON array of such objects, leaving unknown ids out. The server's own
OpenAPI file (zextras/carbonio-user-management, `resources/user-management.yaml`) and its
integration tests (`GetMyselfByCookieApiIT`, `UsersApiIT`) give the same `id.userId`, `email`,
`fullName` and `domain`. Tolerated variations: `userType` instead of `type` (SDK 0.5.3); no
type at all (servers from before guests existed: INTERNAL); a null `fullName` or `email`
(taken as ""; the original dropped such a principal, safe to fix: behaviour.md#authentication).
`domain`, `status` and `locale` are not used by chats. The server's newer rewrite (a POST
`/users` and a gRPC API) is not this API and is not supported.

Outcomes: a 4xx from `/users/myself/` means the token is not valid (user-management answers
404 for an unknown cookie): None, so 401. A 404 from `/users/id/` means no such user. Anything
else (connection refused, timeout, 5xx, a body that is not as above) raises `DependencyFailed`:
authentication for `/users/myself/`, profiling for the others, so 500 (DECISIONS.md#errors; the
original answered 401 when user-management was down).

Successful authentications are cached per token for `cache_seconds` (the original: 60 min;
a short default here so that a token revoked in Carbonio stops working soon). Failures and
invalid tokens are not cached. Concurrent lookups of one token share one request.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, TypeVar
from uuid import UUID

import httpx

from wschats.domain.errors import Dependency, DependencyFailed, Unauthorized
from wschats.domain.model import UserProfile, UserType

log = logging.getLogger(__name__)

AUTH_COOKIE = "ZM_AUTH_TOKEN"
# Open sessions re-validated concurrently, at most.
_SESSION_CHECKS_AT_ONCE = 20
_T = TypeVar("_T")
# RFC 6265 cookie-octet: anything else could not be sent as the cookie unchanged (or would add
# another cookie, or another header), so such a token cannot be one user-management issued.
_COOKIE_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+")


class UserManagementIdentity:
    """`IdentityService` on the user-management HTTP API at `url` (e.g. http://127.78.0.4:20001)."""

    def __init__(
        self,
        url: str,
        *,
        timeout_seconds: float = 5.0,
        cache_seconds: float = 60.0,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url.rstrip("/")
        self._cache_seconds = cache_seconds
        self._cache_size = cache_size
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, UserProfile]] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[UserProfile | None]] = {}
        # One client for every request; it keeps no cookie, so each request carries exactly
        # the cookie of the user it is made for, whatever user-management sets.
        self._client = httpx.AsyncClient(
            timeout=timeout_seconds,
            cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
            follow_redirects=False,
        )

    # ------------------------------------------------------------ IdentityService

    async def authenticate(self, token: str) -> UserProfile | None:
        if not _COOKIE_VALUE.fullmatch(token):
            return None
        cached = self._cached(token)
        if cached is not None:
            return cached
        task = self._inflight.get(token)
        if task is None:
            task = asyncio.create_task(self._load_myself(token))
            self._inflight[token] = task
            task.add_done_callback(lambda done: self._forget(token, done))
        # Shielded: a caller that goes away does not cancel the lookup others wait for.
        return await asyncio.shield(task)

    async def valid_sessions(self, tokens: Sequence[str]) -> dict[str, datetime | None]:
        """Asks `/users/myself/` again (the cache answers within its period): user-management
        says nothing of a token's expiry, so None. A token it cannot answer for stays valid."""
        valid: dict[str, datetime | None] = {}
        unique = list(dict.fromkeys(tokens))
        for start in range(0, len(unique), _SESSION_CHECKS_AT_ONCE):
            chunk = unique[start : start + _SESSION_CHECKS_AT_ONCE]
            answers = await asyncio.gather(
                *(self.authenticate(token) for token in chunk), return_exceptions=True
            )
            for token, answer in zip(chunk, answers, strict=True):
                if answer is None:
                    continue
                if isinstance(answer, BaseException) and not isinstance(answer, Exception):
                    raise answer
                valid[token] = None
        return valid

    async def get_user(self, user_id: UUID, *, token: str) -> UserProfile | None:
        path = f"/users/id/{user_id}"
        response = await self._get(path, Dependency.PROFILING, token=token)
        if response.status_code == 404:
            return None
        _expect_success(response, Dependency.PROFILING, path)
        return _parse(response, Dependency.PROFILING, path, _profile)

    async def get_users(self, user_ids: Sequence[str], *, token: str) -> list[UserProfile]:
        if not user_ids:
            return []
        path = "/users/"
        response = await self._get(
            path,
            Dependency.PROFILING,
            token=token,
            params=httpx.QueryParams([("userIds", i) for i in user_ids]),
        )
        _expect_success(response, Dependency.PROFILING, path)
        found = {str(p.id): p for p in _parse(response, Dependency.PROFILING, path, _profiles)}
        ordered: dict[str, UserProfile] = {}
        for asked in user_ids:
            key = _uuid_text(asked)
            if key is not None and key in found:
                ordered.setdefault(key, found[key])
        return list(ordered.values())

    async def health(self) -> bool:
        try:
            response = await self._client.get(f"{self._url}/health/")
        except httpx.HTTPError:
            return False
        return response.is_success

    async def close(self) -> None:
        await self._client.aclose()

    # ------------------------------------------------------------ internals

    async def _load_myself(self, token: str) -> UserProfile | None:
        path = "/users/myself/"
        response = await self._get(path, Dependency.AUTHENTICATION, token=token)
        if response.is_client_error:
            return None
        _expect_success(response, Dependency.AUTHENTICATION, path)
        profile = _parse(response, Dependency.AUTHENTICATION, path, _profile)
        if self._cache_seconds > 0:
            self._cache[token] = (self._clock() + self._cache_seconds, profile)
            self._cache.move_to_end(token)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return profile

    def _cached(self, token: str) -> UserProfile | None:
        entry = self._cache.get(token)
        if entry is None:
            return None
        expires_at, profile = entry
        if self._clock() >= expires_at:
            del self._cache[token]
            return None
        return profile

    def _forget(self, token: str, done: asyncio.Task[UserProfile | None]) -> None:
        if self._inflight.get(token) is done:
            del self._inflight[token]
        if not done.cancelled():
            done.exception()  # retrieved here, in case every waiter went away

    async def _get(
        self,
        path: str,
        dependency: Dependency,
        *,
        token: str,
        params: httpx.QueryParams | None = None,
    ) -> httpx.Response:
        if not _COOKIE_VALUE.fullmatch(token):
            raise Unauthorized("Invalid token")
        try:
            return await self._client.get(
                self._url + path, params=params, headers={"Cookie": f"{AUTH_COOKIE}={token}"}
            )
        except httpx.HTTPError as exc:
            log.warning("user-management GET %s failed: %r", path, exc)
            raise DependencyFailed(
                dependency, f"The user-management service did not answer GET {path}"
            ) from exc


def _expect_success(response: httpx.Response, dependency: Dependency, path: str) -> None:
    if not response.is_success:
        log.warning("user-management answered %s to GET %s", response.status_code, path)
        raise DependencyFailed(
            dependency,
            f"The user-management service answered {response.status_code} to GET {path}",
        )


def _parse(
    response: httpx.Response, dependency: Dependency, path: str, read: Callable[[Any], _T]
) -> _T:
    try:
        return read(response.json())
    except ValueError as exc:  # JSON, UUID and enum errors are all ValueErrors
        log.warning("user-management answered GET %s with an unexpected body: %s", path, exc)
        raise DependencyFailed(
            dependency, f"The user-management service answered GET {path} with an unexpected body"
        ) from exc


def _profiles(data: Any) -> list[UserProfile]:
    if not isinstance(data, list):
        raise ValueError("expected a JSON array of users")
    return [_profile(item) for item in data]


def _profile(data: Any) -> UserProfile:
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    raw_id = data.get("id")
    if isinstance(raw_id, dict):
        raw_id = raw_id.get("userId")
    if not isinstance(raw_id, str):
        raise ValueError("no id.userId")
    raw_type = data.get("type", data.get("userType"))
    return UserProfile(
        id=UUID(raw_id),
        email=_text(data, "email"),
        name=_text(data, "fullName"),
        type=UserType.INTERNAL if raw_type is None else UserType(str(raw_type).lower()),
    )


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{key} is not a string")
    return value


def _uuid_text(value: str) -> str | None:
    try:
        return str(UUID(value))
    except ValueError:
        return None
