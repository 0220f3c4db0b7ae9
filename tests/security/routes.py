"""The app's route table, as the security tests read it."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi import routing as fastapi_routing
from starlette.routing import BaseRoute, Route


def route_keys(app: FastAPI) -> set[tuple[str, str]]:
    """(METHOD, path) of every HTTP route the app serves, included routers too; websockets
    and mounts are left out."""
    keys: set[tuple[str, str]] = set()
    for route in _routes(app.routes):
        if not isinstance(route, Route):
            continue
        for method in route.methods or ():
            if method != "HEAD":  # Starlette adds HEAD to every GET
                keys.add((method, route.path_format))
    return keys


def _routes(routes: list[BaseRoute]) -> list[BaseRoute]:
    # FastAPI >= 0.120 keeps included routers nested instead of copying their routes.
    iter_contexts = getattr(fastapi_routing, "iter_route_contexts", None)
    if iter_contexts is None:
        return list(routes)
    return [context.original_route for context in iter_contexts(routes)]
