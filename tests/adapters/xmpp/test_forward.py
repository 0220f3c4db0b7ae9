"""The forward stanza of behaviour.md#forward-stanza, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import pytest

from wschats.adapters.xmpp.forward import forward_stanza
from wschats.adapters.xmpp.stanzas import MONGOOSEIM_JIDS
from wschats.domain.errors import BadRequest
from wschats.domain.messaging import ForwardedAttachment, ForwardMessage

ROOM = UUID("6c5a3a2e-3b0f-4a52-9c3e-0a8c8a1f0d11")
SENDER = UUID("8a1b7e2c-1d4f-4c7a-9e1b-2f3a4b5c6d7e")
FILE = UUID("d3c2b1a0-9f8e-4d7c-8b6a-5a4f3e2d1c0b")
STAMP = datetime(2023, 1, 1, tzinfo=UTC)

HEAD = (
    f"<message xmlns='jabber:client' from='{SENDER}@carbonio' "
    f"to='{ROOM}@muclight.carbonio' type='groupchat'>"
)
DELAY = "<delay xmlns='urn:xmpp:delay' stamp='2023-01-01T00:00:00Z'/>"
TO_FORWARD = (
    "\\u0074\\u006f\\u0020\\u0066\\u006f\\u0072\\u0077\\u0061\\u0072\\u0064"  # "to forward"
)


def forward(
    original: str,
    sent_at: datetime | None = STAMP,
    description: str = "",
    attachment: ForwardedAttachment | None = None,
) -> str:
    return forward_stanza(
        MONGOOSEIM_JIDS, ForwardMessage(ROOM, SENDER, original, sent_at, description, attachment)
    )


def test_forwarding_a_plain_message_as_in_the_original_integration_test() -> None:
    stanza = forward(
        "<message xmlns='jabber:client' from='sender-id' to='recipient-id' type='groupchat'>"
        "<body>to forward</body></message>"
    )
    assert stanza == (
        f"{HEAD}<body/><forwarded xmlns='urn:xmpp:forward:0' count='1'>{DELAY}"
        "<message from='sender-id' to='recipient-id' type='groupchat'>"
        f"<body encoded='UTF-8'>{TO_FORWARD}</body></message></forwarded></message>"
    )


def test_special_characters_and_newlines_in_the_body_are_encoded() -> None:
    stanza = forward("<message from='a' to='b' type='groupchat'><body>àèéìòù&\nx</body></message>")
    assert (
        "<body encoded='UTF-8'>\\u00e0\\u00e8\\u00e9\\u00ec\\u00f2\\u00f9\\u0026\\u000a\\u0078"
        "</body>"
    ) in stanza


def test_markup_characters_typed_in_a_body_survive() -> None:
    # Clients send body text unescaped; an escaped one must come out the same.
    raw = forward("<message from='a' to='b'><body>1 < 2 & 3 > 2 \"q\" 'a'</body></message>")
    escaped = forward(
        "<message from='a' to='b'><body>1 &lt; 2 &amp; 3 &gt; 2 &quot;q&quot; &apos;a&apos;"
        "</body></message>"
    )
    expected = "".join(f"\\u{ord(c):04x}" for c in "1 < 2 & 3 > 2 \"q\" 'a'")
    assert f"<body encoded='UTF-8'>{expected}</body>" in raw
    assert f"<body encoded='UTF-8'>{expected}</body>" in escaped


def test_a_body_already_encoded_is_kept_even_when_a_server_dropped_its_marker() -> None:
    # ejabberd hands back archived messages without the body's encoded='UTF-8'.
    for body in ("<body encoded='UTF-8'>\\u0068\\u0069</body>", "<body>\\u0068\\u0069</body>"):
        stanza = forward(f"<message from='a' to='b'>{body}</message>")
        assert "<body encoded='UTF-8'>\\u0068\\u0069</body>" in stanza


def test_the_body_escaping_does_not_touch_the_same_text_elsewhere() -> None:
    stanza = forward("<message from='a&amp;b' to='b'><body>a&amp;b</body></message>")
    assert "<message from='a&amp;b' to='b'>" in stanza
    assert "<body encoded='UTF-8'>\\u0061\\u0026\\u0062</body>" in stanza


def test_forwarding_a_forwarded_message_counts_and_keeps_the_innermost_body() -> None:
    stanza = forward(
        "<message xmlns='jabber:client' from='old-sender-id' to='old-recipient-id' "
        "type='groupchat'><body/><forwarded xmlns='urn:xmpp:forward:0' count='1'>"
        "<delay xmlns='urn:xmpp:delay' stamp='2023-01-01T00:00:00Z'/>"
        "<message from='sender-id' to='recipient-id' type='groupchat'>"
        "<body encoded='UTF-8'>\\u0066\\u0069\\u0072\\u0073\\u0074</body></message>"
        "</forwarded></message>"
    )
    assert stanza == (
        f"{HEAD}<body/><forwarded xmlns='urn:xmpp:forward:0' count='2'>{DELAY}"
        "<message from='old-sender-id' to='old-recipient-id' type='groupchat'>"
        "<body encoded='UTF-8'>\\u0066\\u0069\\u0072\\u0073\\u0074</body>"
        "</message></forwarded></message>"
    )


def test_replies_markers_stanza_ids_and_configurations_are_dropped() -> None:
    stanza = forward(
        "<message xmlns='jabber:client' from='a' id='m1' to='b' type='groupchat'>"
        "<x xmlns='urn:xmpp:muclight:0#configuration'><operation>attachmentAdded</operation>"
        "</x><body encoded='UTF-8'>\\u0068\\u0069</body>"
        "<reply xmlns='urn:xmpp:reply:0' id='r1' to='b'/>"
        "<markable xmlns='urn:xmpp:chat-markers:0'/>"
        "<stanza-id xmlns='urn:xmpp:sid:0' by='b' id='s1'/>"
        "<origin-id xmlns='urn:xmpp:sid:0' id='o1'/></message>",
        sent_at=None,
    )
    assert stanza == (
        f"{HEAD}<body/><forwarded xmlns='urn:xmpp:forward:0' count='1'>"
        "<message from='a' id='m1' to='b' type='groupchat'>"
        "<body encoded='UTF-8'>\\u0068\\u0069</body>"
        "<origin-id xmlns='urn:xmpp:sid:0' id='o1'/></message></forwarded></message>"
    )


def test_an_archive_result_is_unwrapped_instead_of_failing() -> None:
    stanza = forward(
        "<message xmlns='jabber:client' from='room@muclight.carbonio' to='u@carbonio'>"
        "<result xmlns='urn:xmpp:mam:2' id='123'><forwarded xmlns='urn:xmpp:forward:0'>"
        "<delay xmlns='urn:xmpp:delay' stamp='2023-01-01T00:00:00Z'/>"
        "<message from='room@muclight.carbonio/u@carbonio' type='groupchat'>"
        "<body>hi</body></message></forwarded></result></message>"
    )
    assert stanza == (
        f"{HEAD}<body/><forwarded xmlns='urn:xmpp:forward:0' count='1'>{DELAY}"
        "<message from='room@muclight.carbonio' to='u@carbonio'>"
        "<body encoded='UTF-8'>\\u0068\\u0069</body></message></forwarded></message>"
    )


def test_description_attachment_and_no_body_in_the_original() -> None:
    stanza = forward(
        "<message from='a' to='b' type='groupchat'/>",
        sent_at=datetime(2024, 5, 6, 9, 8, 7, 120000, tzinfo=timezone(timedelta(hours=2))),
        description="look",
        attachment=ForwardedAttachment(FILE, "peanuts.jpg", "image/jpg", 33786),
    )
    assert stanza == (
        f"{HEAD}<x xmlns='urn:xmpp:muclight:0#configuration'>"
        f"<operation>attachmentAdded</operation><attachment-id>{FILE}</attachment-id>"
        "<filename encoded='UTF-8'>\\u0070\\u0065\\u0061\\u006e\\u0075\\u0074\\u0073\\u002e"
        "\\u006a\\u0070\\u0067</filename><mime-type>image/jpg</mime-type><size>33786</size>"
        "</x><body encoded='UTF-8'>\\u006c\\u006f\\u006f\\u006b</body>"
        "<forwarded xmlns='urn:xmpp:forward:0' count='1'>"
        "<delay xmlns='urn:xmpp:delay' stamp='2024-05-06T07:08:07.12Z'/>"
        "<message from='a' to='b' type='groupchat'><body/></message></forwarded></message>"
    )


def test_other_namespaces_and_attributes_are_kept_and_sorted() -> None:
    stanza = forward(
        "<message type='groupchat' xml:lang='en' to='b' from='a' xmlns='jabber:client'>"
        "<body>x</body><thread parent='p'>t1</thread>"
        "<apply-to xmlns='urn:xmpp:fasten:0' id='z'><edit xmlns='zextras:xmpp:edit:0'/>"
        "</apply-to></message>",
        sent_at=None,
    )
    assert stanza.endswith(
        "<message from='a' to='b' type='groupchat' xml:lang='en'>"
        "<body encoded='UTF-8'>\\u0078</body><thread parent='p'>t1</thread>"
        "<apply-to xmlns='urn:xmpp:fasten:0' id='z'><edit xmlns='zextras:xmpp:edit:0'/>"
        "</apply-to></message></forwarded></message>"
    )


@pytest.mark.parametrize(
    "original",
    [
        "not xml",
        "<message><body>unclosed</message>",
        "<message from='a'><body>x</body></message><message/>",
        "<message><forwarded count='two'><message><body>x</body></message></forwarded></message>",
        '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        "<message><body>&b;</body></message>",
        '<!DOCTYPE m SYSTEM "file:///etc/passwd"><message><body>x</body></message>',
    ],
)
def test_unreadable_messages_are_a_bad_request(original: str) -> None:
    with pytest.raises(BadRequest, match="Cannot read the message to forward"):
        forward(original)
