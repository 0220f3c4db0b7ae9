"""Finding people by name or email, for the web client's "new chat" and "add member" boxes.

An extension (docs/web-client-extensions.md): the contract only looks users up by id. The
built-in directory searches names and emails; the user-management service offers no search,
so there an exact user id is the only thing that finds someone.
"""

from __future__ import annotations

from uuid import UUID

from wschats.domain.errors import BadRequest
from wschats.domain.escapes import storable_text
from wschats.domain.model import Principal, UserProfile
from wschats.ports import IdentityService, UserDirectory

MAX_QUERY_LENGTH = 128
DEFAULT_LIMIT = 10
MAX_LIMIT = 50


class PeopleSearch:
    def __init__(self, directory: UserDirectory | None, identity: IdentityService) -> None:
        self._directory = directory
        self._identity = identity

    @property
    def by_name_or_email(self) -> bool:
        """False when only an exact user id finds someone (user-management identity)."""
        return self._directory is not None

    async def find(self, caller: Principal, query: str, limit: int) -> list[UserProfile]:
        text = storable_text(query.strip(), "query")  # NUL or a lone surrogate: 400, not 500
        if not text:
            raise BadRequest("query must not be empty")
        if len(text) > MAX_QUERY_LENGTH:
            raise BadRequest(f"query must be at most {MAX_QUERY_LENGTH} characters")
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
        if self._directory is not None:
            return await self._directory.search(text, limit)
        try:
            user_id = UUID(text)
        except ValueError:
            return []
        found = await self._identity.get_user(user_id, token=caller.token)
        return [found] if found is not None else []
