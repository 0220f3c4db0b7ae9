"""The services of one running wschats: what the HTTP layer is given.

It holds services only, never an adapter (wschats.bootstrap builds both, in two steps).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from wschats.config import Settings
from wschats.services.attachments import AttachmentService
from wschats.services.auth import AuthService
from wschats.services.client_config import ClientConfigService
from wschats.services.health import HealthService
from wschats.services.meetings import MeetingService
from wschats.services.members import MemberService
from wschats.services.people import PeopleSearch
from wschats.services.pictures import PictureService
from wschats.services.previews import PreviewService
from wschats.services.rooms import RoomService
from wschats.services.sessions import EventSessions
from wschats.services.storage import StorageCheck
from wschats.services.users import UserService


@dataclass
class Container:
    settings: Settings
    auth: AuthService
    rooms: RoomService
    members: MemberService
    users: UserService
    meetings: MeetingService
    health: HealthService
    previews: PreviewService
    attachments: AttachmentService
    pictures: PictureService
    storage: StorageCheck
    sessions: EventSessions
    people: PeopleSearch  # web client extensions (docs/web-client-extensions.md)
    client_config: ClientConfigService
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        """Stops the services' loops and finishes their work; the adapters stay open."""
        for close in reversed(self.closers):
            await close()
