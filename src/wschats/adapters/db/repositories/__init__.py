"""Repositories over one open transaction (SQLAlchemy Core, no ORM session), one module per
aggregate, named after the unit of work's attribute (`uow.rooms` is in `rooms.py`):

- rooms.py        `SqlRoomRepository` (its listing statement in room_listing.py)
- members.py      `SqlSubscriptionRepository`
- settings.py     `SqlSettingsRepository`
- files.py        `SqlFileRepository`
- chats_users.py  `SqlChatsUserRepository`
- meetings.py     `SqlMeetingRepository`
- outbox.py       `SqlOutbox`

The unit of work that holds them is `adapters/db/database.py`.
"""

from wschats.adapters.db.repositories.chats_users import SqlChatsUserRepository
from wschats.adapters.db.repositories.files import SqlFileRepository, attachment_page_statement
from wschats.adapters.db.repositories.meetings import SqlMeetingRepository
from wschats.adapters.db.repositories.members import SqlSubscriptionRepository
from wschats.adapters.db.repositories.outbox import SqlOutbox
from wschats.adapters.db.repositories.room_listing import listing_statement
from wschats.adapters.db.repositories.rooms import SqlRoomRepository, one_to_one_key
from wschats.adapters.db.repositories.settings import SqlSettingsRepository
from wschats.adapters.db.repositories.upsert import upsert

__all__ = [
    "SqlChatsUserRepository",
    "SqlFileRepository",
    "SqlMeetingRepository",
    "SqlOutbox",
    "SqlRoomRepository",
    "SqlSettingsRepository",
    "SqlSubscriptionRepository",
    "attachment_page_statement",
    "listing_statement",
    "one_to_one_key",
    "upsert",
]
