"""/openapi.json stays consistent with the contract for every contract path (DECISIONS.md#serving).

The document is compared with the contract file the tests read (tests/contract.py), with the
deliberate amendments of DECISIONS.md applied here independently of the server's code, and
with the route table: every route is published, and the routes take the parameters the contract
declares.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import yaml
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from openapi_spec_validator import validate as validate_openapi
from starlette.responses import Response

from tests.contract import contract_path
from tests.security.routes import route_keys
from wschats.api.openapi import MEETING_SCHEMAS, is_authenticated, published_routes
from wschats.app import create_app
from wschats.config import Settings
from wschats.domain.model import UserType

BASE_PATH = "/services/chats"
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
# Not operations of the API: the websocket, the metrics scrape and FastAPI's own pages.
NOT_IN_DOCUMENT = {
    "/events",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/docs/assets/{name}",
    # The web client: its page and built files (its two extensions, under /ext/, are published).
    "/",
    "/assets/{name}",
}
DOWNLOADS = {"getRoomPicture", "getUserPicture", "getAttachment"}
DOWNLOAD_HEADERS = {"Range", "If-Range", "If-None-Match"}  # DECISIONS.md#files
MEETING_REF = "../meeting/meeting-api.yaml#/components/schemas/Meeting"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    # The document needs no running services: no lifespan, no database.
    data_dir = tmp_path_factory.mktemp("openapi")
    return create_app(Settings(data_dir=data_dir, base_path=BASE_PATH))


@pytest_asyncio.fixture(loop_scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(scope="module")
def contract() -> dict[str, Any]:
    """The contract file as written (status keys as strings)."""
    raw: dict[str, Any] = yaml.safe_load(contract_path().read_text(encoding="utf-8"))
    for item in raw["paths"].values():
        for method in HTTP_METHODS:
            if method in item:
                responses = item[method]["responses"]
                item[method]["responses"] = {str(k): v for k, v in responses.items()}
    return raw


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for token in node["$ref"].removeprefix("#/").split("/"):
            target = target[token]
        node = target
    return node


def expected_schemas(contract: dict[str, Any]) -> dict[str, Any]:
    """The contract's schemas as DECISIONS.md amends them."""
    schemas: dict[str, Any] = copy.deepcopy(contract["components"]["schemas"])
    schemas["ImageTypeEnum"]["enum"].append("Webp")  # DECISIONS.md#previews
    # DECISIONS.md#rooms: membersIds is write-only
    schemas["RoomCreationFields"]["properties"]["membersIds"]["writeOnly"] = True
    schemas["MemberToInsert"]["allOf"][1]["required"].remove("historyCleared")  # DECISIONS.md#rooms
    schemas["RoomUserSettings"]["required"].remove("clearedAt")  # DECISIONS.md#serving: no nulls
    schemas["MemberInserted"]["allOf"][1]["required"].remove("clearedAt")  # DECISIONS.md#serving
    schemas["Error"]["required"] = ["message", "traceId"]  # DECISIONS.md#errors
    schemas.update(copy.deepcopy(MEETING_SCHEMAS))  # DECISIONS.md#meetings
    return schemas


def expected_parameter(contract: dict[str, Any], parameter: dict[str, Any]) -> dict[str, Any]:
    resolved = copy.deepcopy(resolve(contract, parameter))
    if resolved["name"] == "Content-Length":
        # `type: long` is no OpenAPI type.
        resolved["schema"] = {"type": "integer", "format": "int64", "minimum": 0}
    if resolved["name"] == "output_format":
        del resolved["schema"]["default"]  # `medium` is no value of it (DECISIONS.md#previews)
    if resolved["name"] == "area":  # <width>x<height> in digits; may be empty (DECISIONS.md#files)
        patterns = {"path": "^[0-9]{1,6}x[0-9]{1,6}$", "header": "^([0-9]{1,6}x[0-9]{1,6})?$"}
        resolved["schema"]["pattern"] = patterns[resolved["in"]]
    return resolved


# ------------------------------------------------------------------------------------------


def test_packaged_contract_is_the_one_the_tests_read() -> None:
    """The tests read the packaged copy unless WSC_CONTRACT_PATH names an upstream copy: then the
    two must be the same file, so a refreshed upstream contract is noticed."""
    packaged = resources.files("wschats.api").joinpath("contract/chats-api-1.3.1.yaml")
    assert yaml.safe_load(packaged.read_bytes())["info"]["version"] == "1.3.1"
    assert packaged.read_bytes() == contract_path().read_bytes(), (
        f"src/wschats/api/contract/ differs from {contract_path()}: copy it again"
    )


def test_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate_openapi(document)
    assert document["openapi"] == "3.0.3"
    assert document["servers"] == [{"url": "/"}, {"url": BASE_PATH}]


async def test_document_is_served_under_the_base_path(
    client: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    response = await client.get(f"{BASE_PATH}/openapi.json")
    assert response.status_code == 200
    assert response.json() == document


@pytest.mark.parametrize("path", ["/docs", f"{BASE_PATH}/docs/"])
async def test_docs_page_shows_the_document(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swagger-ui" in response.text
    assert "/openapi.json" in response.text


def test_every_contract_operation_is_published(
    document: dict[str, Any], contract: dict[str, Any]
) -> None:
    published = {(m, p): op for m, p, op in operations(document)}
    for method, path, operation in operations(contract):
        assert (method, path) in published, f"{method} {path} of the contract is not published"
        assert published[(method, path)]["operationId"] == operation["operationId"]


def test_contract_parameters_are_published_as_written(
    document: dict[str, Any], contract: dict[str, Any]
) -> None:
    published = {(m, p): op for m, p, op in operations(document)}
    for method, path, operation in operations(contract):
        mine = published[(method, path)]
        expected = [expected_parameter(contract, p) for p in operation.get("parameters", [])]
        actual = [resolve(document, p) for p in mine.get("parameters", [])]
        if operation["operationId"] in DOWNLOADS:
            extra = [p for p in actual if p["name"] in DOWNLOAD_HEADERS]
            assert {p["name"] for p in extra} == DOWNLOAD_HEADERS
            assert all(p["in"] == "header" and not p["required"] for p in extra)
            actual = [p for p in actual if p["name"] not in DOWNLOAD_HEADERS]
        assert actual == expected, f"{method} {path}: parameters differ from the contract"


def test_contract_responses_are_published_as_written(
    document: dict[str, Any], contract: dict[str, Any]
) -> None:
    published = {(m, p): op for m, p, op in operations(document)}
    for method, path, operation in operations(contract):
        mine = published[(method, path)]["responses"]
        for status, declared in operation["responses"].items():
            assert status in mine, f"{method} {path}: status {status} is not published"
            expected = copy.deepcopy(resolve(contract, declared).get("content"))
            actual = resolve(document, mine[status]).get("content")
            if int(status) >= 400:
                assert expected is None  # the contract gives error responses no body ...
                expected = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            elif expected and expected.get("application/json", {}).get("schema") == {
                "$ref": MEETING_REF
            }:
                expected["application/json"]["schema"] = {"$ref": "#/components/schemas/Meeting"}
            elif expected and "application/octet-stream" in expected:
                # A file goes with its own media type (behaviour.md#download-attachment, #previews).
                expected = {"*/*": expected["application/octet-stream"]}
            assert actual == expected, f"{method} {path} -> {status}: the response differs"


def test_contract_schemas_are_published_as_amended(
    document: dict[str, Any], contract: dict[str, Any]
) -> None:
    mine = document["components"]["schemas"]
    for name, schema in expected_schemas(contract).items():
        assert mine.get(name) == schema, f"schema {name} differs from the amended contract"


def test_request_bodies_refuse_unknown_fields(
    document: dict[str, Any], contract: dict[str, Any]
) -> None:
    """DECISIONS.md#errors: unknown fields are refused, so published bodies are closed objects with
    the contract's fields."""
    published = {(m, p): op for m, p, op in operations(document)}
    for method, path, operation in operations(contract):
        if "requestBody" not in operation:
            continue
        declared = resolve(contract, operation["requestBody"])["content"]
        mine = resolve(document, published[(method, path)]["requestBody"])["content"]
        assert set(mine) == set(declared), f"{method} {path}: media types differ"
        if "application/json" not in declared:
            assert mine == declared
            continue
        schema = mine["application/json"]["schema"]
        expected = _fields(contract, declared["application/json"]["schema"])
        if schema.get("type") == "array":
            schema = schema["items"]
        assert schema["additionalProperties"] is False, f"{method} {path}: body is open"
        assert set(schema["properties"]) == expected[0], f"{method} {path}: fields differ"
        assert set(schema.get("required", [])) == expected[1] - {"historyCleared"}


def _fields(contract: dict[str, Any], schema: dict[str, Any]) -> tuple[set[str], set[str]]:
    schema = resolve(contract, schema)
    if schema.get("type") == "array":
        return _fields(contract, schema["items"])
    names, required = set(schema.get("properties", {})), set(schema.get("required", []))
    for part in schema.get("allOf", []):
        more = _fields(contract, part)
        names |= more[0]
        required |= more[1]
    return names, required


def test_error_statuses_carry_the_error_body(document: dict[str, Any]) -> None:
    """DECISIONS.md#errors: every error answer is JSON {"message", "traceId"}; each operation lists
    the errors it can give, 401 wherever credentials are needed."""
    for method, path, operation in operations(document):
        responses = operation["responses"]
        for status, response in responses.items():
            content = resolve(document, response).get("content")
            if int(status) >= 400:
                assert content == {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                }, f"{method} {path} -> {status}"
        assert "500" in responses, f"{method} {path}"
        assert "422" not in responses, f"{method} {path}: DECISIONS.md#errors says never 422"
        if operation["security"]:
            assert {"400", "401", "429"} <= set(responses), f"{method} {path}"


def test_every_route_is_published(app: FastAPI, document: dict[str, Any]) -> None:
    published = {(m, p.rstrip("/") or "/") for m, p, _ in operations(document)}
    for method, path in route_keys(app):
        if path in NOT_IN_DOCUMENT:
            continue
        assert (method, path) in published, f"{method} {path} is served but not published"


def test_routes_take_the_published_parameters(app: FastAPI, document: dict[str, Any]) -> None:
    """What FastAPI reads from each route (its declared parameters) is what the document
    promises, so the document describes the code and not only the contract."""
    published = {(m, p.rstrip("/") or "/"): op for m, p, op in operations(document)}
    for route in published_routes(app):
        generated = get_openapi(title="t", version="0", routes=[route])["paths"]
        for method, operation in generated[route.path_format].items():
            mine = published[(method.upper(), route.path_format)]
            assert operation["operationId"] == mine["operationId"], route.path_format
            expected = {(p["in"], p["name"].lower()) for p in operation.get("parameters", [])}
            actual = {
                (p["in"], p["name"].lower())
                for p in (resolve(document, q) for q in mine.get("parameters", []))
                if p["name"] not in DOWNLOAD_HEADERS  # read from the request (DECISIONS.md#files)
            }
            assert actual == expected, f"{method.upper()} {route.path_format}: parameters"
            assert bool(mine["security"]) == is_authenticated(route), route.path_format


def test_added_operations_describe_their_answers(document: dict[str, Any]) -> None:
    paths = document["paths"]
    login = paths["/auth/login"]["post"]
    assert login["security"] == []
    assert resolve(document, login["responses"]["200"])["content"]["application/json"] == {
        "schema": {"$ref": "#/components/schemas/Token"}
    }
    assert set(paths["/auth/token"]["delete"]["responses"]) >= {"204", "401"}
    meeting = {"$ref": "#/components/schemas/Meeting"}
    assert paths["/meetings"]["post"]["responses"]["201"]["content"]["application/json"] == {
        "schema": meeting
    }
    assert "409" in paths["/meetings"]["post"]["responses"]
    assert paths["/meetings"]["get"]["responses"]["200"]["content"]["application/json"] == {
        "schema": {"type": "array", "items": meeting}
    }
    assert paths["/meetings/{meetingId}"]["get"]["responses"]["200"]["content"] == {
        "application/json": {"schema": meeting}
    }
    assert "content" not in paths["/meetings/{meetingId}"]["delete"]["responses"]["204"]


def test_the_web_client_extensions_are_published(document: dict[str, Any]) -> None:
    """docs/web-client-extensions.md: /ext/users and /ext/client-config are in the server's
    document (not in the contract), with their answers, bounds and errors."""
    people = document["paths"]["/ext/users"]["get"]
    config = document["paths"]["/ext/client-config"]["get"]
    for operation in (people, config):
        assert operation["tags"] == ["Extensions"]
        assert operation["security"]
        assert {"200", "400", "401"} <= set(operation["responses"])
    parameters = {p["name"]: p for p in (resolve(document, q) for q in people["parameters"])}
    assert parameters["query"]["required"] is True
    assert (
        parameters["query"]["schema"] | {"minLength": 1, "maxLength": 128}
        == (parameters["query"]["schema"])
    )
    limit = parameters["limit"]["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 50, 10)
    found = people["responses"]["200"]["content"]["application/json"]["schema"]
    assert found["type"] == "array"
    person = resolve(document, found["items"])
    assert set(person["required"]) == {"id", "email", "name", "type"}
    assert all(field.get("description") for field in person["properties"].values())
    assert person["properties"]["type"]["enum"] == [t.value for t in UserType]
    shape = resolve(document, config["responses"]["200"]["content"]["application/json"]["schema"])
    assert set(shape["properties"]) == {
        "userId",
        "xmppWebsocketUrl",
        "xmppDomain",
        "xmppMucService",
        "jid",
        "messagingUnavailableReason",
        "peopleSearch",
    }
    assert all(field.get("description") for field in shape["properties"].values())
    assert shape["properties"]["jid"]["nullable"] is True
    assert shape["properties"]["peopleSearch"]["enum"] == ["name-or-email", "user-id"]
    assert "/ext/users" not in yaml.safe_load(contract_path().read_text(encoding="utf-8"))["paths"]


def test_published_meeting_schema_is_the_one_responses_are_checked_with(
    document: dict[str, Any],
) -> None:
    """tests/contract.py validates meeting responses with MEETING_SCHEMAS; /openapi.json must
    publish exactly those, so clients see what is checked."""
    published = document["components"]["schemas"]
    assert {name: published[name] for name in MEETING_SCHEMAS} == MEETING_SCHEMAS


def test_routes_registered_later_are_published(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    before = app.openapi()
    assert "/late" not in before["paths"]

    async def late() -> Response:
        return Response(status_code=204)

    app.add_api_route("/late", late, methods=["GET"], operation_id="late", status_code=204)
    assert app.openapi()["paths"]["/late"]["get"]["operationId"] == "late"
