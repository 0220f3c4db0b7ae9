"""POST /rooms/{roomId}/forward (behaviour.md#forward)."""

from __future__ import annotations

import uuid

from tests.conftest import Api, EventCapture, Users
from tests.files.support import Stored, upload_attachment
from tests.support.rooms import new_group


def attachment_message(attachment_id: str, room_id: str = "r") -> str:
    return (
        f"<message xmlns='jabber:client' from='u@carbonio' id='m1' "
        f"to='{room_id}@muclight.carbonio' type='groupchat'>"
        "<x xmlns='urn:xmpp:muclight:0#configuration'><operation>attachmentAdded</operation>"
        f"<attachment-id>{attachment_id}</attachment-id>"
        "<filename encoded='UTF-8'>\\u0061</filename><mime-type>text/plain</mime-type>"
        "<size>3</size></x><body/></message>"
    )


TEXT_MESSAGE = (
    "<message xmlns='jabber:client' from='u@carbonio' to='r@muclight.carbonio' "
    "type='groupchat'><body>fish & chips <3</body></message>"
)


async def test_forward_text_and_attachment(
    api: Api, users: Users, stored: Stored, events: EventCapture
) -> None:
    me, a, b = await users.many(3)
    source = await new_group(api, me, a, b)
    target = await new_group(api, me, b, a)
    data = b"forwarded bytes"
    file_id = (
        await upload_attachment(api, a, source["id"], data, name="f.txt", area="3x4")
    ).json()["id"]
    await events.watch(me, a, b)

    response = await api.post(
        f"/rooms/{target['id']}/forward",
        me,
        json_body=[
            {
                "originalMessage": TEXT_MESSAGE,
                "originalMessageSentAt": "2024-05-01T10:00:00.000+02:00",
            },
            {"originalMessage": attachment_message(file_id), "description": "look"},
        ],
    )
    assert response.status_code == 204
    listed = (await api.get(f"/rooms/{target['id']}/attachments", b)).json()["attachments"]
    assert len(listed) == 1
    copy = listed[0]
    assert copy["id"] != file_id
    assert (copy["name"], copy["size"], copy["mimeType"]) == ("f.txt", len(data), "text/plain")
    assert copy["userId"] == str(me.id) and copy["roomId"] == target["id"]
    assert (await api.get(f"/attachments/{copy['id']}/download", b)).content == data
    assert await stored.file(copy["id"]) == data
    assert await stored.file(file_id) == data  # the original stays
    # Forwarding sends no event (behaviour.md#forward).
    assert await events.received(b) == []
    # The copy lives on its own: deleting the original keeps it.
    assert (await api.delete(f"/attachments/{file_id}", a)).status_code == 204
    assert (await api.get(f"/attachments/{copy['id']}/download", b)).content == data


async def test_forward_errors_record_nothing(api: Api, users: Users, stored: Stored) -> None:
    me, a, b, outsider = await users.many(4)
    source = await new_group(api, a, b, outsider)  # `me` is not a member of the source room
    target = await new_group(api, me, a, b)
    mine = await new_group(api, me, a, outsider)
    foreign = (await upload_attachment(api, a, source["id"], b"secret")).json()["id"]
    own = (await upload_attachment(api, me, mine["id"], b"mine")).json()["id"]
    path = f"/rooms/{target['id']}/forward"
    before = await stored.keys()

    async def forward(*messages: object, user: object = me, to: str = path) -> int:
        response = await api.post(to, user, json_body=list(messages))  # type: ignore[arg-type]
        return response.status_code

    ok = {"originalMessage": attachment_message(own)}
    assert await forward(ok, {"originalMessage": attachment_message(foreign)}) == 403
    assert await forward(ok, {"originalMessage": attachment_message(str(uuid.uuid4()))}) == 404
    assert await forward({"originalMessage": attachment_message("not-a-uuid")}) == 404
    assert await forward(ok, {"originalMessage": "<message><body>unclosed"}) == 400
    assert await forward({"originalMessage": "not xml at all"}) == 400
    doctype = "<!DOCTYPE m [<!ENTITY x 'y'>]><message><body>&x;</body></message>"
    assert await forward({"originalMessage": doctype}) == 400
    bad_count = (
        "<message><forwarded xmlns='urn:xmpp:forward:0' count='many'><message><body>a</body>"
        "</message></forwarded></message>"
    )
    assert await forward({"originalMessage": bad_count}) == 400
    for count in ("9" * 4300, "9" * 5000):  # converts (or not), but count + 1 cannot be written
        huge = bad_count.replace("'many'", f"'{count}'")
        assert await forward({"originalMessage": huge}) == 400
    assert await forward({"originalMessage": "x" * 300_000}) == 400
    assert await forward({"originalMessage": ""}) == 400
    assert await forward({"description": "no message"}) == 400
    assert await forward({"originalMessage": TEXT_MESSAGE, "unknown": 1}) == 400
    assert (
        await forward({"originalMessage": TEXT_MESSAGE, "originalMessageSentAt": "yesterday"})
        == 400
    )
    for sent_at in (
        "9999-12-31T23:59:59-23:59",  # past year 9999 once in UTC: was a 500
        "0001-01-01T00:00:00+23:59",  # before year 1 once in UTC: was a 500
        "1" * 5000,
        10**30,
    ):
        message = {"originalMessage": TEXT_MESSAGE, "originalMessageSentAt": sent_at}
        assert await forward(ok, message) == 400, sent_at
    assert await forward(*([{"originalMessage": TEXT_MESSAGE}] * 1001)) == 400
    assert await forward(ok, user=outsider) == 403
    assert await forward(ok, to=f"/rooms/{uuid.uuid4()}/forward") == 404
    assert await forward(ok, user=None) == 401
    # Nothing was copied by any of them.
    assert await stored.keys() == before
    listed = (await api.get(f"/rooms/{target['id']}/attachments", me)).json()["attachments"]
    assert listed == []
    # And the valid message alone goes through; an empty list is fine too.
    assert await forward(ok) == 204
    assert await forward() == 204
    for edge in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59+23:59"):
        text = {"originalMessage": TEXT_MESSAGE, "originalMessageSentAt": edge}
        assert await forward(text) == 204, edge
    assert len((await api.get(f"/rooms/{target['id']}/attachments", me)).json()["attachments"]) == 1


async def test_a_text_message_mentioning_attachments_is_not_one(api: Api, users: Users) -> None:
    me, a, b = await users.many(3)
    target = await new_group(api, me, a, b)
    # The marker in a body (clients send body text unescaped) with no `x` element: no copy.
    text = "<message><body><operation>attachmentAdded</operation></body></message>"
    response = await api.post(
        f"/rooms/{target['id']}/forward", me, json_body=[{"originalMessage": text}]
    )
    assert response.status_code == 204
    assert (await api.get(f"/rooms/{target['id']}/attachments", me)).json()["attachments"] == []
