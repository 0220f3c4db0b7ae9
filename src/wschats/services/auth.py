"""Who is calling: token resolution, login and logout (DECISIONS.md#identity)."""

from __future__ import annotations

from uuid import UUID

from wschats.domain.errors import BadRequest, Unauthorized
from wschats.domain.model import Principal
from wschats.ports import IdentityService, UserDirectory
from wschats.services.login_throttle import LoginThrottle


class AuthService:
    def __init__(
        self,
        identity: IdentityService,
        directory: UserDirectory | None,
        token_ttl: int,
        throttle: LoginThrottle | None = None,
    ) -> None:
        self._identity = identity
        self._directory = directory
        self._token_ttl = token_ttl
        self._throttle = throttle

    async def authenticate(self, token: str | None, queue_id: str | None) -> Principal:
        queue: UUID | None = None
        if queue_id is not None:
            try:
                queue = UUID(queue_id)
            except ValueError:
                raise Unauthorized("The queue-id header must be a UUID") from None
        if not token:
            raise Unauthorized("Authentication required")
        profile = await self._identity.authenticate(token)
        if profile is None:
            raise Unauthorized("Invalid or expired token")
        return Principal(user_id=profile.id, token=token, queue_id=queue)

    async def login(self, email: str, password: str, address: str) -> str:
        """A new token for the user; `address` is the client's, for the failure limits."""
        directory = self._require_directory()
        throttle = self._throttle
        attempt = throttle.attempt(email, address) if throttle is not None else None
        try:
            user_id = await directory.check_password(email, password)
        except BaseException:
            if attempt is not None:
                attempt.forgive()  # not a wrong password (hashing busy, database down)
            raise
        if user_id is None:
            raise Unauthorized("Wrong email or password")
        if attempt is not None:
            attempt.succeeded()
        return await directory.issue_token(user_id, self._token_ttl)

    async def logout(self, caller: Principal) -> None:
        await self._require_directory().revoke_token(caller.token)

    def _require_directory(self) -> UserDirectory:
        if self._directory is None:
            raise BadRequest("Login is handled by the external identity service")
        return self._directory
