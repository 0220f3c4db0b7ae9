"""Which browser pages may open the events websocket: the service's own origin and those allowed.

A browser sends `Origin` on every websocket handshake and lets any page open a socket to any
host, with the user's cookies: without this check, another site's page could read the user's
events. Clients that are not browsers send no `Origin` and are not concerned.

The service's own origin is where the request was sent: the `Host` header (or
`X-Forwarded-Host` set by a proxy in front), and the scheme (`X-Forwarded-Proto` from a trusted
proxy is applied by the server before this). The host must match exactly; the port only when the
request names one. A page served over plain http may not open a socket on a service reached
over https.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SECURE = {"https", "wss"}


@functools.cache
def allowed_origins(setting: str) -> frozenset[str]:
    """The setting's comma-separated origins, normalised (`*` allows any)."""
    return frozenset(
        _normalise(item) for item in setting.split(",") if item.strip() and _normalise(item)
    )


def origin_allowed(connection: HTTPConnection, allowed: frozenset[str]) -> bool:
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    if "*" in allowed or _normalise(origin) in allowed:
        return True
    return _same_origin(origin, connection)


def _normalise(origin: str) -> str:
    value = origin.strip().rstrip("/").lower()
    if value == "*":
        return value
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return ""
    if port is None or port == _DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{parts.hostname}"
    return f"{parts.scheme}://{parts.hostname}:{port}"


def _same_origin(origin: str, connection: HTTPConnection) -> bool:
    try:
        page = urlsplit(origin.strip().lower())
        page_port = page.port
    except ValueError:
        return False
    if page.scheme not in _DEFAULT_PORTS or not page.hostname:
        return False  # "null" (a sandboxed or file page) and anything else unusual
    forwarded = connection.headers.get("x-forwarded-host", "").split(",")[0].strip()
    host = (forwarded or connection.headers.get("host", "")).lower()
    try:
        served = urlsplit(f"//{host}")
        served_port = served.port
    except ValueError:
        return False
    if not served.hostname or served.hostname != page.hostname:
        return False
    if served_port is not None and (page_port or _DEFAULT_PORTS[page.scheme]) != served_port:
        return False
    return not (connection.url.scheme in _SECURE and page.scheme != "https")
