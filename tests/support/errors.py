"""What every error answer looks like (DECISIONS.md#errors), checked the same way everywhere."""

from __future__ import annotations

import httpx


def assert_error(response: httpx.Response, status: int, *words: str) -> str:
    """The response is the error `status` with a JSON `{message, traceId}`; returns the message.

    `words` must all appear in the message (case-insensitive); they show which rule fired
    when two rules would give the same status.
    """
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json", response.headers
    body = response.json()
    assert set(body) == {"message", "traceId"}, body
    assert body["message"] and body["traceId"], body
    for word in words:
        assert word.lower() in body["message"].lower(), (word, body["message"])
    return str(body["message"])
