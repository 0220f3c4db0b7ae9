"""Registers every router."""

from __future__ import annotations

from fastapi import FastAPI

from wschats.api.routes import auth, events, health, meetings, members, rooms, users


def register_routes(app: FastAPI) -> None:
    for module in (health, auth, rooms, members, users, meetings, events):
        app.include_router(module.router)
