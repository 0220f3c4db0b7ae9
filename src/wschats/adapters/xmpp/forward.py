"""The forward stanza (docs/behaviour.md, forwarding): a groupchat message wrapping another one.

The message being forwarded is XML that a client sent; it is parsed with DTDs refused (no
entity expansion, nothing fetched) and re-serialised deterministically: namespace declaration
first, then attributes in name order, single quotes, `<tag/>` for empty elements.

Fixes to the original's quirks: the body escaping touches only the body, not every copy of its
text elsewhere; nested `markable`/`forwarded`/`reply`/`stanza-id`/`x` elements are removed
where they are instead of failing; a forwarded body that is not `\\u`-encoded is encoded.
Kept for compatibility: the inner message is written without a namespace declaration, so in
XML terms it inherits `urn:xmpp:forward:0` (the original's exact output; its web client looks
elements up by name only).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from wschats.adapters.xmpp.stanzas import (
    Jids,
    Operation,
    attachment_entries,
    escape_attribute,
    escape_text,
    message,
)
from wschats.domain.errors import BadRequest
from wschats.domain.escapes import decode_header, encode_text
from wschats.domain.forwarding import (
    child_element,
    first_element,
    forwarded_count,
    local_name,
    parse_message,
)
from wschats.domain.messaging import ForwardMessage

CLIENT_NS = "jabber:client"
_XML_NS = "http://www.w3.org/XML/1998/namespace"
_REMOVED = ("markable", "forwarded", "reply", "stanza-id", "x")
_ENTITY = re.compile(r"&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);")
_ENCODED_TEXT = re.compile(r"(?:\\u[0-9a-fA-F]{4})+")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def forward_stanza(
    jids: Jids,
    command: ForwardMessage,
    *,
    store_hint: bool = False,
    plain_body: bool = False,
    text_prefix: str = "",
) -> str:
    """The stanza that forwards `command.original_message` into the destination room.

    With `plain_body` the outer body is readable text for standard clients: the description,
    else `text_prefix` followed by the forwarded message's own text.
    Raises `BadRequest("Cannot read the message to forward")` if it is not readable XML.
    """
    attachment = command.attachment
    forwarded, encoded = _forwarded(command.original_message, command.original_sent_at)
    text = None
    if plain_body:
        text = command.description or text_prefix + _decoded(encoded)
    return message(
        jids,
        room_id=command.room_id,
        sender_id=command.sender_id,
        operation=Operation.ATTACHMENT_ADDED if attachment else None,
        entries=(
            attachment_entries(
                attachment.attachment_id,
                attachment.file_name,
                attachment.mime_type,
                attachment.size,
            )
            if attachment
            else ()
        ),
        body=command.description,
        forwarded=forwarded,
        store_hint=store_hint,
        text=text,
    )


def forwarded_element(original: str, sent_at: datetime | None) -> str:
    """`<forwarded xmlns='urn:xmpp:forward:0' count='N'>[delay]<message ...>...</forwarded>`."""
    return _forwarded(original, sent_at)[0]


def _decoded(encoded: str) -> str:
    try:
        return decode_header(encoded, field="forwarded text")
    except BadRequest:
        return encoded  # escapes a client got wrong: shown as they are


def _forwarded(original: str, sent_at: datetime | None) -> tuple[str, str]:
    """The `forwarded` element and the forwarded text as it is written there (encoded)."""
    root = parse_message(original)
    nested = first_element(root, "forwarded", include_self=False)
    if nested is not None:
        count = forwarded_count(nested) + 1
        inner = first_element(nested, "message", include_self=False)
        source = first_element(inner, "body", include_self=False) if inner is not None else None
    else:
        count = 1
        source = child_element(root, "body")
    text = ""
    if source is not None:
        text = _unescape_xml("".join(source.itertext()))
        if text and not _is_encoded(source, text):
            text = encode_text(text)
    _set_body(root, text)
    for name in _REMOVED:
        _remove_first(root, name)
    parts = [f"<forwarded xmlns='urn:xmpp:forward:0' count='{count}'>"]
    if sent_at is not None:
        parts.append(f"<delay xmlns='urn:xmpp:delay' stamp='{_stamp(sent_at)}'/>")
    parts.append(_serialise(root, CLIENT_NS))
    parts.append("</forwarded>")
    return "".join(parts), text


def _is_encoded(body: ET.Element, text: str) -> bool:
    # Servers may drop the `encoded` attribute (ejabberd keeps only a body's text), so a text
    # made only of escapes counts as encoded too, as the original's earlier versions decided.
    return body.get("encoded") == "UTF-8" or _ENCODED_TEXT.fullmatch(text) is not None


def _namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _set_body(root: ET.Element, text: str) -> None:
    body = child_element(root, "body")
    if body is None:
        body = ET.SubElement(root, _qualified(_namespace(root.tag), "body"))
    for child in list(body):
        body.remove(child)
    body.text = text
    if text:
        body.set("encoded", "UTF-8")
    else:
        body.attrib.pop("encoded", None)


def _qualified(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}" if namespace else name


def _remove_first(root: ET.Element, name: str) -> None:
    parents = {child: parent for parent in root.iter() for child in parent}
    target = first_element(root, name, include_self=False)
    if target is None:
        return
    parent = parents[target]
    _detach(parent, target)
    # An emptied MAM `result` wrapper would make clients take the message for an archive result.
    if parent is not root and local_name(parent.tag) == "result" and len(parent) == 0:
        _detach(parents[parent], parent)


def _detach(parent: ET.Element, child: ET.Element) -> None:
    """Remove `child`, keeping the text that followed it."""
    if child.tail:
        index = list(parent).index(child)
        if index > 0:
            previous = parent[index - 1]
            previous.tail = (previous.tail or "") + child.tail
        else:
            parent.text = (parent.text or "") + child.tail
    parent.remove(child)


def _unescape_xml(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        entity = match.group(1)
        if entity in _NAMED:
            return _NAMED[entity]
        code = int(entity[2:], 16) if entity[1] in "xX" else int(entity[1:])
        try:
            return chr(code)
        except (ValueError, OverflowError):
            return match.group(0)

    return _ENTITY.sub(replace, text)


def _stamp(moment: datetime) -> str:
    """ISO-8601 in UTC with `Z`; fractional seconds only when present (as Java prints it)."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def _serialise(element: ET.Element, default_ns: str) -> str:
    namespace = _namespace(element.tag)
    name = local_name(element.tag)
    declarations: list[str] = []
    if namespace and namespace != default_ns:
        declarations.append(f" xmlns='{escape_attribute(namespace)}'")
        default_ns = namespace
    attributes: list[tuple[str, str]] = []
    for key, value in element.attrib.items():
        key_ns = _namespace(key)
        if not key_ns:
            attributes.append((key, value))
        elif key_ns == _XML_NS:
            attributes.append((f"xml:{local_name(key)}", value))
        else:
            prefix = f"ns{len(declarations)}"
            declarations.append(f" xmlns:{prefix}='{escape_attribute(key_ns)}'")
            attributes.append((f"{prefix}:{local_name(key)}", value))
    parts = [f"<{name}", *declarations]
    parts.extend(f" {key}='{escape_attribute(value)}'" for key, value in sorted(attributes))
    children = [_serialise(child, default_ns) + escape_text(child.tail or "") for child in element]
    if not element.text and not children:
        parts.append("/>")
        return "".join(parts)
    parts.append(">")
    parts.append(escape_text(element.text or ""))
    parts.extend(children)
    parts.append(f"</{name}>")
    return "".join(parts)
