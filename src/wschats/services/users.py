"""User use cases: lookups enriched with what chats keeps (behaviour.md#list-users, #get-user)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from wschats.domain.errors import BadRequest, NotFound
from wschats.domain.model import Capabilities, Principal
from wschats.domain.views import UserView
from wschats.ports import Database, IdentityService

MAX_USERS_PER_REQUEST = 10


class UserService:
    def __init__(
        self, database: Database, identity: IdentityService, capabilities: Capabilities
    ) -> None:
        self._db = database
        self._identity = identity
        self._capabilities = capabilities

    async def get_users(self, caller: Principal, user_ids: Sequence[str]) -> list[UserView]:
        if not user_ids:
            raise BadRequest("userIds is required")
        if len(user_ids) > MAX_USERS_PER_REQUEST:
            raise BadRequest(f"At most {MAX_USERS_PER_REQUEST} userIds per request")
        profiles = await self._identity.get_users(user_ids, token=caller.token)
        async with self._db.unit_of_work() as uow:
            chats = await uow.chats_users.get_many([p.id for p in profiles])
        return [UserView(profile=p, chats=chats.get(p.id)) for p in profiles]

    async def get_user(self, caller: Principal, user_id: UUID) -> UserView:
        profile = await self._identity.get_user(user_id, token=caller.token)
        if profile is None:
            raise NotFound(f"User {user_id} not found")
        async with self._db.unit_of_work() as uow:
            chats = await uow.chats_users.get(user_id)
        return UserView(profile=profile, chats=chats)

    def capabilities(self) -> Capabilities:
        return self._capabilities
