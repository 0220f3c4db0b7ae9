"""Reading a message a client asks to forward (behaviour.md#forward, behaviour.md#forward-stanza).

The check runs in the request, so a message the chat server could not be sent gives 400 there
instead of failing later, after the change is committed. It reads the message the way the
forward stanza builder does: the first plain `<body>` is XML-escaped first (clients send its
text unescaped), a DTD is refused (no entity expansion, nothing fetched), and a nested
`forwarded` element must carry a usable `count`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from wschats.domain.errors import BadRequest

UNREADABLE = "Cannot read the message to forward"
ATTACHMENT_MARKER = "<operation>attachmentAdded</operation>"
# A chat message, not a document: far above any stanza limit of an XMPP server.
MAX_MESSAGE_LENGTH = 256 * 1024
MAX_COUNT_DIGITS = 9


@dataclass(frozen=True)
class ForwardedMessage:
    """What forwarding needs to know about the original message."""

    attachment_id: str | None  # the `attachment-id` of an `attachmentAdded` message, as written


def read_forwarded(original: str) -> ForwardedMessage:
    """Check that `original` can be forwarded and find the attachment it carries, if any.

    Raises `BadRequest("Cannot read the message to forward")` for anything unreadable.
    """
    root = parse_message(original)
    nested = first_element(root, "forwarded", include_self=False)
    if nested is not None:
        forwarded_count(nested)
    attachment_id = None
    # As the original: only a message that says so is searched, and only its first `x`.
    if ATTACHMENT_MARKER in original:
        x = first_element(root, "x", include_self=True)
        if x is not None and _child_text(x, "operation") == "attachmentAdded":
            attachment_id = _child_text(x, "attachment-id")
    return ForwardedMessage(attachment_id=attachment_id)


def parse_message(original: str) -> ET.Element:
    """The message as XML, its first body escaped; 400 for anything unreadable or a DTD."""
    if len(original) > MAX_MESSAGE_LENGTH:
        raise BadRequest(f"A message to forward is limited to {MAX_MESSAGE_LENGTH} characters")
    lowered = original.lower()
    # A DTD is the only way to declare entities (expansion bombs, external files): refuse it.
    if "<!doctype" in lowered or "<!entity" in lowered:
        raise BadRequest(UNREADABLE)
    try:
        return ET.fromstring(escape_first_body(original))
    except (ET.ParseError, ValueError):
        raise BadRequest(UNREADABLE) from None


def forwarded_count(forwarded: ET.Element) -> int:
    """How many times a nested `forwarded` element says its message was forwarded."""
    value = forwarded.get("count")
    if value is None:
        return 0
    # Nine digits are plenty; thousands would convert, then fail as count + 1 is written.
    if len(value.strip().lstrip("+").lstrip("0")) > MAX_COUNT_DIGITS:
        raise BadRequest(UNREADABLE)
    try:
        count = int(value)
    except ValueError:
        raise BadRequest(UNREADABLE) from None
    if count < 0:
        raise BadRequest(UNREADABLE)
    return count


def escape_first_body(original: str) -> str:
    """XML-escape the text of the first plain `<body>` (clients send it unescaped)."""
    start = original.find("<body>")
    if start == -1:
        return original
    start += len("<body>")
    end = original.find("</body>", start)
    if end == -1:
        return original
    body = original[start:end]
    escaped = (
        body.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
    )
    return original[:start] + escaped + original[end:]


def local_name(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def first_element(root: ET.Element, name: str, *, include_self: bool) -> ET.Element | None:
    """The first element named `name` (any namespace) in document order."""
    for element in root.iter():
        if element is root and not include_self:
            continue
        if local_name(element.tag) == name:
            return element
    return None


def child_element(parent: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in parent if local_name(c.tag) == name), None)


def _child_text(parent: ET.Element, name: str) -> str | None:
    child = child_element(parent, name)
    if child is None:
        return None
    return "".join(child.itertext()).strip()
