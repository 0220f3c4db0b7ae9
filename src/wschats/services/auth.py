"""Who is calling: token resolution, login and logout (DECISIONS.md#identity)."""

from __future__ import annotations

from uuid import UUID

from wschats.domain.errors import BadRequest, Unauthorized
from wschats.domain.model import Principal
from wschats.ports import IdentityService, UserDirectory


class AuthService:
    def __init__(
        self, identity: IdentityService, directory: UserDirectory | None, token_ttl: int
    ) -> None:
        self._identity = identity
        self._directory = directory
        self._token_ttl = token_ttl

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

    async def login(self, email: str, password: str) -> str:
        directory = self._require_directory()
        user_id = await directory.check_password(email, password)
        if user_id is None:
            raise Unauthorized("Wrong email or password")
        return await directory.issue_token(user_id, self._token_ttl)

    async def logout(self, caller: Principal) -> None:
        await self._require_directory().revoke_token(caller.token)

    def _require_directory(self) -> UserDirectory:
        if self._directory is None:
            raise BadRequest("Login is handled by the external identity service")
        return self._directory
