"""Errors a use case can end with; the HTTP layer maps each class to one status."""

from __future__ import annotations

from enum import StrEnum


class DomainError(Exception):
    """Base of every error that is the caller's or a dependency's fault."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(DomainError):
    pass


class Unauthorized(DomainError):
    pass


class Forbidden(DomainError):
    pass


class NotFound(DomainError):
    pass


class Conflict(DomainError):
    pass


class PayloadTooLarge(DomainError):
    pass


class TooManyRequests(DomainError):
    """Refused for now: the caller may try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class RequestTimeout(DomainError):
    """The client stopped sending its request."""


class Dependency(StrEnum):
    """The dependencies /health reports, in the original's order."""

    DATABASE = "database"
    AUTHENTICATION = "authentication_service"
    PROFILING = "profiling_service"
    XMPP = "xmpp_server"
    EVENTS = "event_dispatcher"
    STORAGE = "storage_service"
    PREVIEWER = "previewer_service"
    VIDEOSERVER = "videoserver_service"

    @property
    def required(self) -> bool:
        return self in _REQUIRED


_REQUIRED = frozenset(
    {Dependency.DATABASE, Dependency.AUTHENTICATION, Dependency.PROFILING, Dependency.XMPP}
)


class DependencyFailed(DomainError):
    """A dependency did not answer or answered wrongly (500 if required, else 424)."""

    def __init__(self, dependency: Dependency, message: str) -> None:
        super().__init__(message)
        self.dependency = dependency
