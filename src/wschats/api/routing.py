"""Registers every router."""

from __future__ import annotations

from fastapi import FastAPI

from wschats.api.routes import (
    attachments,
    auth,
    events,
    extensions,
    forward,
    health,
    meetings,
    members,
    pictures,
    previews,
    rooms,
    users,
)


def register_routes(app: FastAPI) -> None:
    modules = (health, auth, rooms, members, users, meetings, previews, events)
    for module in (*modules, attachments, pictures, forward, extensions):
        app.include_router(module.router)
