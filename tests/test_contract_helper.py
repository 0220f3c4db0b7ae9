"""The contract checker accepts what the contract and DECISIONS.md allow, and nothing else."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract import (
    contract_path,
    operation_for,
    spec_paths,
    validate_http_response,
    validate_request_body,
    validate_response,
    validate_schema,
)

JSON = "application/json"
ROOM_ID = "6f1c1a38-32f6-4a8e-9b8a-1f0e8c6f2f11"
CHANNEL_ID = "0b7d6a52-9d9e-4b57-8f3b-2a1c4b5d6e7f"
USER_A = "11111111-2222-4333-8444-555555555555"
USER_B = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
FILE_ID = "9e8d7c6b-5a49-4382-a716-253443526170"
T0 = "2024-09-10T10:00:00.123Z"
T1 = "2024-09-11T08:30:05.000Z"


def group_room() -> dict[str, Any]:
    return {
        "id": ROOM_ID,
        "name": "Team",
        "description": "",
        "type": "group",
        "createdAt": T0,
        "updatedAt": T1,
        "members": [{"userId": USER_A, "owner": True}, {"userId": USER_B, "owner": False}],
        "userSettings": {"muted": False, "clearedAt": T1},
    }


def workspace_room() -> dict[str, Any]:
    return {
        "id": ROOM_ID,
        "name": "Workspace",
        "type": "workspace",
        "rank": 1,
        "createdAt": T0,
        "updatedAt": T0,
        "pictureUpdatedAt": T1,
        "members": [{"userId": USER_A, "owner": True}],
        "children": [
            {
                "id": CHANNEL_ID,
                "name": "general",
                "type": "channel",
                "parentId": ROOM_ID,
                "rank": 0,
                "createdAt": T0,
                "updatedAt": T0,
                "userSettings": {"muted": True},
            }
        ],
    }


def meeting() -> dict[str, Any]:
    return {
        "id": FILE_ID,
        "name": "Team meeting",
        "roomId": ROOM_ID,
        "meetingType": "permanent",
        "active": True,
        "createdAt": T0,
        "startedAt": T1,
        "participants": [
            {
                "userId": USER_A,
                "queueId": USER_B,
                "audioStreamEnabled": True,
                "videoStreamEnabled": False,
                "screenStreamEnabled": False,
                "joinedAt": T1,
            }
        ],
    }


ERROR = {"message": "you are not a member of this room", "traceId": "4f9c2d0e7a1b"}


def test_room_with_members_settings_and_children_conforms() -> None:
    validate_response("GET", f"/rooms/{ROOM_ID}", 200, group_room(), JSON)
    validate_response("GET", f"/rooms/{ROOM_ID}", 200, workspace_room(), JSON)
    validate_response("GET", "/rooms", 200, [group_room(), workspace_room()], JSON)
    validate_response("POST", "/rooms", 201, group_room(), JSON)


def test_a_misspelt_field_is_rejected_at_any_depth() -> None:
    room = group_room()
    room["craetedAt"] = T0
    with pytest.raises(AssertionError, match="craetedAt"):
        validate_response("GET", f"/rooms/{ROOM_ID}", 200, room, JSON)

    nested = workspace_room()
    nested["children"][0]["userSettings"]["mutted"] = True
    where = r"\$\[0\]\.children\[0\]\.userSettings: .*'mutted' was unexpected"
    with pytest.raises(AssertionError, match=where):
        validate_response("GET", "/rooms", 200, [nested], JSON)


def test_a_missing_required_field_is_rejected() -> None:
    room = group_room()
    del room["updatedAt"]
    with pytest.raises(AssertionError, match="'updatedAt' is a required property"):
        validate_response("GET", f"/rooms/{ROOM_ID}", 200, room, JSON)


@pytest.mark.parametrize(
    "value",
    [
        "2024-09-10T10:00:00Z",  # no milliseconds
        "2024-09-10T10:00:00.123456Z",  # microseconds
        "2024-09-10T10:00:00.123+00:00",  # offset instead of Z
        "2024-09-10 10:00:00.123Z",  # space separator
        "2024-13-10T10:00:00.123Z",  # no such month
        "1725962400123",  # epoch millis as text
    ],
)
def test_a_date_time_not_in_the_decided_format_is_rejected(value: str) -> None:
    room = group_room()
    room["createdAt"] = value
    with pytest.raises(AssertionError, match=r"\$\.createdAt: .* is not a 'date-time'"):
        validate_response("GET", f"/rooms/{ROOM_ID}", 200, room, JSON)


@pytest.mark.parametrize("value", ["not-a-uuid", ROOM_ID.upper(), ROOM_ID.replace("-", "")])
def test_an_identifier_that_is_not_a_lower_case_uuid_is_rejected(value: str) -> None:
    room = group_room()
    room["members"][1]["userId"] = value
    with pytest.raises(AssertionError, match=r"\$\.members\[1\]\.userId: .* is not a 'uuid'"):
        validate_response("GET", f"/rooms/{ROOM_ID}", 200, room, JSON)


def test_a_room_carrying_members_ids_is_rejected() -> None:
    room = group_room()
    room["membersIds"] = [USER_A, USER_B]
    with pytest.raises(AssertionError, match="membersIds"):
        validate_response("POST", "/rooms", 201, room, JSON)
    room["membersIds"] = []
    with pytest.raises(AssertionError, match="membersIds"):
        validate_response("POST", "/rooms", 201, room, JSON)


def test_cleared_at_may_be_omitted_but_must_be_a_date_time_when_present() -> None:
    room = group_room()
    room["userSettings"] = {"muted": False}
    validate_response("GET", f"/rooms/{ROOM_ID}", 200, room, JSON)
    room["userSettings"] = {"clearedAt": T0}
    with pytest.raises(AssertionError, match="'muted' is a required property"):
        validate_response("GET", f"/rooms/{ROOM_ID}", 200, room, JSON)

    members = f"/rooms/{ROOM_ID}/members"
    validate_response("POST", members, 201, {"userId": USER_B, "owner": False}, JSON)
    validate_response(
        "POST", members, 201, {"userId": USER_B, "owner": False, "clearedAt": T1}, JSON
    )
    with pytest.raises(AssertionError, match="clearedAt"):
        validate_response(
            "POST", members, 201, {"userId": USER_B, "owner": False, "clearedAt": "yesterday"}, JSON
        )


def test_error_body_is_accepted_on_an_undeclared_error_status() -> None:
    # GET /users declares only 200.
    path = f"/users?userIds={USER_A}"
    validate_response("GET", path, 403, ERROR, JSON)
    validate_response("GET", path, 424, json.dumps(ERROR).encode(), JSON)


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (None, JSON, "empty"),
        (b"", None, "Content-Type"),
        ({"message": "forbidden"}, JSON, "'traceId' is a required property"),
        ({**ERROR, "code": 403}, JSON, "'code' was unexpected"),
        ({"message": 403, "traceId": "x"}, JSON, "is not of type 'string'"),
        (ERROR, "application/json; charset=utf-8", "Content-Type"),
        (b"<html>Forbidden</html>", JSON, "not JSON"),
    ],
)
def test_an_error_status_requires_the_error_shape(
    body: Any, content_type: str | None, reason: str
) -> None:
    with pytest.raises(AssertionError, match=reason):
        validate_response("GET", "/users/capabilities", 403, body, content_type)


@pytest.mark.parametrize("status", [202, 405, 418, 422, 502])
def test_a_status_neither_declared_nor_tolerated_is_rejected(status: int) -> None:
    with pytest.raises(AssertionError, match="status not declared"):
        validate_response("GET", f"/rooms/{ROOM_ID}", status, ERROR, JSON)


def test_json_responses_need_exactly_application_json() -> None:
    for content_type in ["application/json; charset=utf-8", "text/plain", None]:
        with pytest.raises(AssertionError, match="Content-Type"):
            validate_response("GET", f"/rooms/{ROOM_ID}", 200, group_room(), content_type)


def test_raw_json_bytes_are_decoded_before_validation() -> None:
    validate_response("GET", f"/rooms/{ROOM_ID}", 200, json.dumps(group_room()).encode(), JSON)
    broken = dict(group_room(), id="nope")
    with pytest.raises(AssertionError, match="is not a 'uuid'"):
        validate_response("GET", f"/rooms/{ROOM_ID}", 200, json.dumps(broken), JSON)


def test_no_content_responses_must_be_empty() -> None:
    validate_response("DELETE", f"/rooms/{ROOM_ID}", 204, b"", None)
    validate_response("PUT", f"/rooms/{ROOM_ID}/mute", 204, None, None)
    with pytest.raises(AssertionError, match="expected an empty body"):
        validate_response("DELETE", f"/rooms/{ROOM_ID}", 204, b"{}", JSON)


def test_binary_responses_accept_any_content_type_but_json() -> None:
    picture = f"/rooms/{ROOM_ID}/picture"
    validate_response("GET", picture, 200, b"\x89PNG\r\n", "image/png")
    validate_response("GET", f"/attachments/{FILE_ID}/download", 200, b"%PDF", "application/pdf")
    validate_response("GET", f"/preview/image/{FILE_ID}/0x0/", 200, b"RIFF", "image/webp")
    with pytest.raises(AssertionError, match="expected binary content"):
        validate_response("GET", picture, 200, b"{}", "application/json; charset=utf-8")


def test_downloads_may_answer_ranges_and_conditional_requests() -> None:
    download = f"/attachments/{FILE_ID}/download"
    validate_response("GET", download, 206, b"%P", "application/pdf")
    validate_response("GET", download, 304, b"", None)
    validate_response("GET", download, 416, ERROR, JSON)
    # A JSON operation has no partial content.
    with pytest.raises(AssertionError, match="status not declared"):
        validate_response("GET", f"/attachments/{FILE_ID}", 206, b"", None)


def test_meeting_of_a_room_follows_the_local_meeting_schema() -> None:
    path = f"/rooms/{ROOM_ID}/meeting"
    validate_response("GET", path, 200, meeting(), JSON)
    inactive = meeting()
    del inactive["startedAt"]
    inactive["participants"] = []
    validate_response("GET", path, 200, inactive, JSON)
    validate_schema("Meeting", inactive)

    wrong_type = dict(meeting(), meetingType="instant")
    with pytest.raises(AssertionError, match="meetingType"):
        validate_response("GET", path, 200, wrong_type, JSON)
    extra = copy.deepcopy(meeting())
    extra["participants"][0]["userType"] = "moderator"
    with pytest.raises(AssertionError, match="userType"):
        validate_schema("Meeting", extra)


def test_other_operations_validate_their_own_schemas() -> None:
    health = {
        "isLive": True,
        "status": "warn",
        "dependencies": [
            {"name": "database", "isHealthy": True},
            {"name": "storage_service", "isHealthy": False},
        ],
    }
    validate_response("GET", "/health", 200, health, JSON)
    with pytest.raises(AssertionError, match="'fine' is not one of"):
        validate_response("GET", "/health", 200, dict(health, status="fine"), JSON)

    user = {"id": USER_A, "email": "ann@example.com", "name": "Ann", "type": "internal"}
    validate_response("GET", "/users", 200, [user], JSON)
    with pytest.raises(AssertionError, match="'email' is a required property"):
        validate_response("GET", f"/users/{USER_A}", 200, {"id": USER_A, "name": "Ann"}, JSON)

    attachment = {
        "id": FILE_ID,
        "name": "a.pdf",
        "size": 10,
        "mimeType": "application/pdf",
        "userId": USER_A,
        "roomId": ROOM_ID,
        "createdAt": T0,
        "area": "100x200",
    }
    page = {"attachments": [attachment], "filter": "opaque"}
    validate_response("GET", f"/rooms/{ROOM_ID}/attachments", 200, page, JSON)
    validate_response("POST", f"/rooms/{ROOM_ID}/attachments", 201, {"id": FILE_ID}, JSON)
    validate_response("PUT", f"/rooms/{ROOM_ID}/clear", 200, {"clearedAt": T1}, JSON)
    with pytest.raises(AssertionError, match="is not of type 'integer'"):
        validate_response("GET", f"/attachments/{FILE_ID}", 200, dict(attachment, size="10"), JSON)


def test_paths_match_with_base_path_trailing_slash_and_query() -> None:
    members = "/rooms/{roomId}/members"
    assert operation_for("GET", f"/rooms/{ROOM_ID}/members")[0] == members
    assert operation_for("GET", f"/rooms/{ROOM_ID}/members/")[0] == members
    assert operation_for("GET", f"/services/chats/rooms/{ROOM_ID}/members")[0] == members
    assert operation_for("GET", f"/services/chats/rooms/{ROOM_ID}/members/")[0] == members
    assert operation_for("GET", "/services/chats/health/live")[0] == "/health/live"
    # The spec writes these with a trailing slash; the web client may omit it.
    image = "/preview/image/{fileId}/{area}/"
    assert operation_for("GET", f"/preview/image/{FILE_ID}/100x100?crop=true")[0] == image
    assert operation_for("GET", f"/preview/image/{FILE_ID}/100x100/")[0] == image
    thumb = "/preview/image/{fileId}/{area}/thumbnail"
    assert (
        operation_for("GET", f"/preview/image/{FILE_ID}/0x0/thumbnail/?shape=Rounded")[0] == thumb
    )
    template, operation = operation_for("DELETE", f"/rooms/{ROOM_ID}/members/{USER_B}")
    assert (template, operation["operationId"]) == (
        "/rooms/{roomId}/members/{userId}",
        "deleteRoomMember",
    )
    # A malformed id still names the operation (it answers 404, DECISIONS.md#errors).
    validate_response("GET", "/rooms/not-a-uuid", 404, ERROR, JSON)


def test_a_literal_segment_wins_over_a_template_segment() -> None:
    assert operation_for("GET", "/users/capabilities")[0] == "/users/capabilities"
    assert operation_for("GET", f"/users/{USER_A}")[0] == "/users/{userId}"
    assert operation_for("PUT", "/rooms/workspaces/rank")[0] == "/rooms/workspaces/rank"
    channels = f"/services/chats/rooms/workspaces/{ROOM_ID}/channels/rank"
    assert operation_for("PUT", channels)[0] == "/rooms/workspaces/{workspaceId}/channels/rank"
    # Capabilities are validated as capabilities, not as a User.
    capabilities = {
        "canSeeMessageReads": True,
        "canSeeUsersPresence": True,
        "canVideoCall": False,
        "canVideoCallRecord": False,
        "canUseVirtualBackground": False,
        "editMessageTimeLimitInMinutes": 10,
        "deleteMessageTimeLimitInMinutes": 10,
        "maxGroupMembers": 128,
        "maxRoomImageSizeInKb": 512,
        "maxUserImageSizeInKb": 512,
    }
    validate_response("GET", "/users/capabilities/", 200, capabilities, JSON)
    # The literal path owns the request even when only the template declares the method.
    with pytest.raises(AssertionError, match="declares no GET on /rooms/workspaces/rank"):
        operation_for("GET", "/rooms/workspaces/rank")


def test_unknown_paths_and_methods_are_rejected() -> None:
    with pytest.raises(AssertionError, match="no path of the contract matches"):
        operation_for("GET", "/roomz")
    with pytest.raises(AssertionError, match="no path of the contract matches"):
        operation_for("GET", f"/rooms/{ROOM_ID}/members/{USER_A}/owner/extra")
    with pytest.raises(AssertionError, match="declares no PATCH"):
        validate_response("PATCH", f"/rooms/{ROOM_ID}", 200, group_room(), JSON)


def test_spec_paths_lists_every_declared_operation() -> None:
    paths = spec_paths()
    assert len(paths) == 39
    assert {
        ("GET", "/rooms"),
        ("POST", "/rooms"),
        ("PUT", "/rooms/workspaces/rank"),
        ("GET", "/preview/pdf/{fileId}/"),
        ("GET", "/rooms/{roomId}/meeting"),
        ("GET", "/auth/token"),
    } <= paths
    assert ("GET", "/meetings") not in paths


def test_request_bodies_are_validated_and_closed() -> None:
    validate_request_body(
        "POST", "/rooms", {"name": "Team", "type": "group", "membersIds": [USER_A, USER_B]}
    )
    with pytest.raises(AssertionError, match="'id' was unexpected"):
        validate_request_body("POST", "/rooms", {"id": ROOM_ID, "type": "group"})
    with pytest.raises(AssertionError, match="'type' is a required property"):
        validate_request_body("POST", "/rooms", b'{"name": "Team"}')
    # DECISIONS.md#rooms: historyCleared may be left out.
    validate_request_body("POST", "/rooms/{roomId}/members", {"userId": USER_A, "owner": False})
    validate_request_body(
        "PUT",
        "/rooms/workspaces/rank",
        [{"roomId": ROOM_ID, "rank": 1}, {"roomId": CHANNEL_ID, "rank": 2}],
    )
    validate_request_body("PUT", "/rooms/{roomId}/picture", b"\x89PNG")
    validate_request_body("PUT", "/rooms/{roomId}/mute", None)
    with pytest.raises(AssertionError, match="expected an empty body"):
        validate_request_body("PUT", "/rooms/{roomId}/mute", {"muted": True})
    with pytest.raises(AssertionError, match=r"no PUT /rooms/\{roomId\}/members"):
        validate_request_body("PUT", "/rooms/{roomId}/members", {})


def test_httpx_responses_are_checked_with_their_request() -> None:
    request = httpx.Request("GET", f"http://127.0.0.1/services/chats/rooms/{ROOM_ID}/")
    validate_http_response(httpx.Response(200, json=group_room(), request=request))
    with pytest.raises(AssertionError, match="craetedAt"):
        validate_http_response(
            httpx.Response(200, json=dict(group_room(), craetedAt=T0), request=request)
        )
    # httpx's own JSON responses carry exactly application/json; an empty 403 does not conform.
    with pytest.raises(AssertionError, match="Content-Type"):
        validate_http_response(httpx.Response(403, request=request))


def test_contract_location_can_be_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    default = contract_path()
    assert default.is_file(), f"the package should ship the contract at {default}"
    monkeypatch.setenv("WSC_CONTRACT_PATH", "/elsewhere/chats.yaml")
    assert contract_path() == Path("/elsewhere/chats.yaml")
