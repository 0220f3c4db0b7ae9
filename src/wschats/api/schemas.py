"""Request bodies: unknown fields are refused, enums ignore case (DECISIONS.md#errors)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any, TypeVar
from uuid import UUID

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from wschats.api.server.limits import bounded_list
from wschats.domain.model import MeetingType, RoomType
from wschats.domain.time import as_utc

E = TypeVar("E", bound=Enum)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


RoomTypeField = Annotated[RoomType, BeforeValidator(_lower)]
MeetingTypeField = Annotated[MeetingType, BeforeValidator(_lower)]
# Every list in a request is bounded by WSC_MAX_LIST_LENGTH (more items: 400).
BoundedList = BeforeValidator(bounded_list)


def _in_utc(value: datetime) -> datetime:
    # An offset can carry a date past year 9999 or before year 1 once in UTC: 400, not 500.
    try:
        return as_utc(value)
    except OverflowError:
        raise ValueError("the date is out of range once converted to UTC") from None


# A date from a client, in UTC.
UtcDatetime = Annotated[datetime, AfterValidator(_in_utc)]


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # U+0000 cannot be stored in PostgreSQL text: refuse it as bad input (400) on every
        # database, rather than fail on one of them (it was a 500).
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text must not contain the NUL character (U+0000)")
        return value


class RoomCreationFields(RequestModel):
    name: str | None = Field(None, min_length=1, max_length=128)
    description: str | None = Field(None, max_length=256)
    type: RoomTypeField
    parent_id: UUID | None = None
    members_ids: Annotated[list[UUID], BoundedList] | None = None


class RoomEditableFields(RequestModel):
    name: str | None = Field(None, min_length=1, max_length=128)
    description: str | None = Field(None, max_length=256)


class RoomRank(RequestModel):
    room_id: UUID
    rank: int


# A body that is a list of ranks (`body: RoomRanks` in the route).
RoomRanks = Annotated[list[RoomRank], BoundedList]


class MemberToInsert(RequestModel):
    user_id: UUID
    owner: bool = False
    history_cleared: bool = False  # the original failed with 500 when absent (DECISIONS.md#rooms)


class LoginRequest(RequestModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class MeetingCreation(RequestModel):
    room_id: UUID
    meeting_type: MeetingTypeField = MeetingType.PERMANENT
    name: str | None = Field(None, max_length=128)
    # The web client may send an expiration for scheduled meetings; it is accepted and unused.
    expiration: str | None = None
