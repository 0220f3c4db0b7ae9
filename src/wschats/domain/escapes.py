"""The `\\uXXXX` text encoding shared by the chat server's stanzas and the upload headers.

The original writes user text into stanzas as `\\u` + 4 lowercase hex digits per UTF-16 code
unit (behaviour.md#encoded-headers); clients send the `fileName` and `description` upload headers
the same way. Characters outside the BMP travel as surrogate pairs (DECISIONS.md#files).
"""

from __future__ import annotations

import re

from wschats.domain.errors import BadRequest

_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_ESCAPE_START = "\\u"


def encode_text(text: str) -> str:
    """Every UTF-16 code unit of `text` as `\\u` + 4 lowercase hex digits."""
    units = text.encode("utf-16-be", "surrogatepass")
    return "".join(f"\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2))


def decode_header(value: str, *, field: str = "header value") -> str:
    """Decode a `fileName`/`description` header (DECISIONS.md#files).

    `\\uXXXX` escapes are decoded, with surrogate pairs joined into one character; text
    outside escapes is kept as it is, so a value with no escapes is returned unchanged.
    A malformed escape (`\\u12`, `\\uZZZZ`, a trailing `\\u`) or an unpaired surrogate gives
    `BadRequest("Unable to decode the <field>")`.

    A header sent as raw UTF-8 (`résumé.txt` typed into curl) reaches us as the Latin-1 reading
    of its bytes (`rÃ©sumÃ©.txt`), as HTTP servers decode headers: text whose Latin-1 bytes
    are valid UTF-8 is read as UTF-8. Genuine Latin-1 text with accents is almost never valid
    UTF-8, so it is kept as it came.
    """
    value = _utf8_read_as_latin1(value)
    if _ESCAPE_START not in value:
        return storable_text(value, field)
    parts: list[str] = []
    units = bytearray()  # consecutive escapes, decoded together so surrogate pairs join
    position = 0
    while position < len(value):
        start = value.find(_ESCAPE_START, position)
        if start != position:
            if units:
                parts.append(_decode_units(units, field))
                units.clear()
            end = len(value) if start == -1 else start
            parts.append(value[position:end])
            position = end
            continue
        match = _ESCAPE.match(value, position)
        if match is None:
            raise BadRequest(f"Unable to decode the {field}")
        units += bytes.fromhex(match.group(1))
        position = match.end()
    if units:
        parts.append(_decode_units(units, field))
    return storable_text("".join(parts), field)


def _utf8_read_as_latin1(value: str) -> str:
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _decode_units(units: bytearray, field: str) -> str:
    try:
        return units.decode("utf-16-be")
    except UnicodeDecodeError:
        raise BadRequest(f"Unable to decode the {field}") from None


def storable_text(text: str, field: str) -> str:
    """Refuse unpaired surrogates and NUL however they got in: neither can be stored (text
    columns refuse NUL) nor sent in a stanza."""
    if "\x00" in text:
        raise BadRequest(f"The {field} must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"Unable to decode the {field}") from None
    return text
