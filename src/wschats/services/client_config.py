"""What the web client needs to know before it connects: where XMPP is, and who it is there.

An extension (docs/web-client-extensions.md). The account is `<user id>@<domain>` and its
password the caller's token, which the XMPP server checks through `wschats xmpp-auth`.
"""

from __future__ import annotations

from dataclasses import dataclass

from wschats.domain.model import Principal


@dataclass(frozen=True)
class MessagingAccess:
    """How browsers reach the XMPP server: its websocket URL, or why there is none."""

    websocket_url: str | None
    domain: str
    muc_service: str
    unavailable_reason: str | None = None


@dataclass(frozen=True)
class ClientConfig:
    user_id: str
    jid: str | None
    domain: str
    muc_service: str
    websocket_url: str | None
    unavailable_reason: str | None
    people_search: str  # "name-or-email" or "user-id"


class ClientConfigService:
    def __init__(self, messaging: MessagingAccess, search_by_name: bool) -> None:
        self._messaging = messaging
        self._search_by_name = search_by_name

    def for_caller(self, caller: Principal) -> ClientConfig:
        access = self._messaging
        available = access.websocket_url is not None
        return ClientConfig(
            user_id=str(caller.user_id),
            jid=f"{caller.user_id}@{access.domain}" if available else None,
            domain=access.domain,
            muc_service=access.muc_service,
            websocket_url=access.websocket_url,
            unavailable_reason=None if available else access.unavailable_reason,
            people_search="name-or-email" if self._search_by_name else "user-id",
        )
