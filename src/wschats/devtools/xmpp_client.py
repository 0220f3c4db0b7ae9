"""A real XMPP client (slixmpp) that logs in and records what it receives, to see wschats' rooms
as an XMPP user does."""

from __future__ import annotations

import asyncio
import copy
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from slixmpp import JID, ClientXMPP
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

CLIENT = "{jabber:client}"
PUBSUB_EVENT = "{http://jabber.org/protocol/pubsub#event}"
MAM = "{urn:xmpp:mam:2}"
FORWARD = "{urn:xmpp:forward:0}"
WAIT_SECONDS = 10.0

Kind = Literal["groupchat", "mucsub", "archive", "other"]


@dataclass(frozen=True)
class Received:
    """One message stanza and, unwrapped, the room message it carries (if any)."""

    kind: Kind
    message: ET.Element  # the room message for groupchat/mucsub/archive, else the stanza
    outer: ET.Element


def unwrap(stanza: ET.Element) -> Received:
    event_message = stanza.find(
        f"{PUBSUB_EVENT}event/{PUBSUB_EVENT}items/{PUBSUB_EVENT}item/{CLIENT}message"
    )
    if event_message is not None:
        return Received("mucsub", event_message, stanza)
    archived = stanza.find(f"{MAM}result/{FORWARD}forwarded/{CLIENT}message")
    if archived is not None:
        return Received("archive", archived, stanza)
    if stanza.get("type") == "groupchat":
        return Received("groupchat", stanza, stanza)
    return Received("other", stanza, stanza)


class XmppUser:
    """A logged-in user of an ejabberd on loopback, with the messages it received in order."""

    def __init__(self, jid: str, password: str, port: int) -> None:
        self.jid = jid
        self._port = port
        self._received: asyncio.Queue[Received] = asyncio.Queue()
        client = ClientXMPP(jid, password)
        # The test server is plain TCP on loopback (ejabberd.md section 9).
        client.enable_direct_tls = False
        client.enable_starttls = False
        client.enable_plaintext = True
        client.plugin["feature_mechanisms"].unencrypted_plain = True
        client.register_plugin("xep_0045")
        client.register_plugin("xep_0313")
        client.register_handler(
            Callback("record every message", StanzaPath("message"), self._record)
        )
        self.client = client

    def _record(self, stanza: Any) -> None:
        self._received.put_nowait(unwrap(copy.deepcopy(stanza.xml)))

    async def login(self) -> None:
        started = asyncio.get_running_loop().create_future()

        def on_start(_: Any) -> None:
            if not started.done():
                started.set_result(None)

        def on_failure(_: Any) -> None:
            if not started.done():
                started.set_exception(AssertionError(f"{self.jid} could not log in"))

        self.client.add_event_handler("session_start", on_start)
        self.client.add_event_handler("failed_auth", on_failure)
        self.client.connect("127.0.0.1", self._port)
        await asyncio.wait_for(started, WAIT_SECONDS)
        # Available presence, so messages to the bare JID (MUC/Sub events) reach this session.
        self.client.send_presence()
        await self.client.get_roster(timeout=WAIT_SECONDS)

    async def join(self, room: str, nick: str) -> None:
        await self.client.plugin["xep_0045"].join_muc_wait(
            JID(room), nick, maxstanzas=0, timeout=WAIT_SECONDS
        )

    async def archive(self, room: str) -> list[ET.Element]:
        """The room's archive (MAM), oldest first."""
        await self.client.plugin["xep_0313"].retrieve(
            jid=JID(room), iterator=False, timeout=int(WAIT_SECONDS)
        )
        # Results arrive as separate messages before the IQ result.
        found: list[ET.Element] = []
        while not self._received.empty():
            received = self._received.get_nowait()
            if received.kind == "archive":
                found.append(received.message)
        return found

    async def next(self) -> Received:
        return await asyncio.wait_for(self._received.get(), WAIT_SECONDS)

    async def until(self, last: Callable[[Received], bool]) -> list[Received]:
        """Everything received up to and including the first message that `last` accepts."""

        async def collect() -> list[Received]:
            seen: list[Received] = []
            while True:
                received = await self._received.get()
                seen.append(received)
                if last(received):
                    return seen

        return await asyncio.wait_for(collect(), WAIT_SECONDS)

    async def close(self) -> None:
        if self.client.is_connected():
            await asyncio.wait_for(self.client.disconnect(), WAIT_SECONDS)
        # slixmpp only cancels its send loop when the client is garbage-collected, and the
        # task then dies pending ("Task was destroyed"); end it here instead.
        sender = self.client._run_out_filters
        if sender is not None:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
