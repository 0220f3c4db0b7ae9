"""Checks HTTP requests and responses against the Chats API contract.

The contract is the OpenAPI 3.0.3 document the package ships (`src/wschats/api/contract/`), as
amended by docs/DECISIONS.md. Every deliberate difference from the YAML is applied in this module,
next to a comment naming the decision that requires it.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import httpx
import yaml
from jsonschema import Draft4Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT4

# The Meeting schema is not in the contract (it lives in the separate meeting API document);
# wschats defines it once, from behaviour.md#room-meeting and DECISIONS.md#meetings.
from wschats.api.openapi import MEETING_SCHEMAS

__all__ = [
    "UNDECLARED_ERROR_STATUSES",
    "contract_path",
    "operation_for",
    "spec_paths",
    "validate_http_response",
    "validate_request_body",
    "validate_response",
    "validate_schema",
]

CONTRACT_PATH_ENV = "WSC_CONTRACT_PATH"
# The copy the package ships; WSC_CONTRACT_PATH points the tests at another (an upstream copy).
_DEFAULT_CONTRACT = Path(str(resources.files("wschats.api") / "contract" / "chats-api-1.3.1.yaml"))

# The spec lists error statuses on some operations only, but any operation can fail these ways
# (authentication, permissions, validation, dependencies: DECISIONS.md#errors); the body: an Error.
UNDECLARED_ERROR_STATUSES = frozenset({400, 401, 403, 404, 409, 413, 424, 429, 500})

_JSON = "application/json"
_BINARY = "application/octet-stream"
_HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
_SCHEMAS_URI = "urn:wschats:chats-api"
_MEETING_REF = "../meeting/meeting-api.yaml#/components/schemas/Meeting"
# Keywords of OpenAPI 3.0 schemas that JSON Schema draft 4 does not know, or that do not bear on
# whether a response is acceptable (readOnly/writeOnly describe direction, not shape).
_OPENAPI_ONLY_KEYWORDS = frozenset(
    {"nullable", "readOnly", "writeOnly", "example", "discriminator", "xml", "externalDocs",
     "deprecated"}
)  # fmt: skip


def contract_path() -> Path:
    """Where the contract is read from: `WSC_CONTRACT_PATH`, else the packaged copy."""
    override = os.environ.get(CONTRACT_PATH_ENV)
    return Path(override) if override else _DEFAULT_CONTRACT


# ---------------------------------------------------------------------------------------------
# Public API


def spec_paths() -> set[tuple[str, str]]:
    """Every (METHOD, path template) the contract declares, templates spelled as in the spec."""
    return {
        (method.upper(), template)
        for template, item in _contract().document["paths"].items()
        for method in item
        if method in _HTTP_METHODS
    }


def operation_for(method: str, path: str) -> tuple[str, dict[str, Any]]:
    """The spec template and operation object serving `method` on the concrete `path`.

    `path` may carry a query string, a trailing slash, a base path (DECISIONS.md#serving). A literal
    segment wins over a template one, as in JAX-RS (`/users/capabilities` over `/users/{userId}`).
    """
    template = _match_template(path)
    operations = _contract().document["paths"][template]
    operation = operations.get(method.lower())
    if operation is None:
        allowed = sorted(m.upper() for m in operations if m in _HTTP_METHODS)
        raise AssertionError(
            f"{method.upper()} {path}: the contract declares no {method.upper()} on {template} "
            f"(it declares {', '.join(allowed)})"
        )
    return template, operation


def validate_response(
    method: str, path: str, status: int, body: Any, content_type: str | None
) -> None:
    """Raise AssertionError unless the response conforms to the contract and DECISIONS.md.

    `body` is the raw response body (bytes or text), or the already decoded JSON value.
    """
    template, _ = operation_for(method, path)
    where = f"{method.upper()} {path} -> {status}"
    declared = _declared_response(template, method, status)
    binary_success = _is_binary_success(template, method)

    if status >= 400:
        # DECISIONS.md#files: a download with an unsatisfiable Range answers 416.
        tolerated = status in UNDECLARED_ERROR_STATUSES or (binary_success and status == 416)
        if declared is None and not tolerated:
            _fail_undeclared(where, template, method)
        # DECISIONS.md#errors: every error response is JSON {"message", "traceId"}, declared or not.
        _check_json(where, body, content_type, _error_validator(), "Error")
        return

    if declared is None:
        # DECISIONS.md#files: downloads answer Range with 206 and conditional requests with 304.
        if binary_success and status == 206:
            _check_not_json(where, content_type)
            return
        if binary_success and status == 304:
            _check_empty(where, body)
            return
        _fail_undeclared(where, template, method)

    content: dict[str, Any] = declared.get("content") or {}
    if not content:
        _check_empty(where, body)
    elif _JSON in content:
        validator = _response_validator(template, method.lower(), status)
        _check_json(where, body, content_type, validator, _schema_label(content[_JSON]))
    elif _BINARY in content:
        _check_not_json(where, content_type)
    else:
        raise AssertionError(f"{where}: unsupported media types in the contract: {list(content)}")


def validate_http_response(response: httpx.Response) -> None:
    """`validate_response` for an httpx response (method and path come from its request)."""
    validate_response(
        response.request.method,
        response.request.url.path,
        response.status_code,
        response.content,
        response.headers.get("content-type"),
    )


def validate_request_body(method: str, template: str, body: Any) -> None:
    """Raise AssertionError unless `body` is a valid request body for the operation.

    `template` is spelled as in the spec (see `spec_paths`); `body` is raw bytes/text or the
    decoded JSON value.
    """
    operations = _contract().document["paths"].get(template)
    if operations is None or method.lower() not in operations:
        raise AssertionError(f"the contract declares no {method.upper()} {template}")
    where = f"request body of {method.upper()} {template}"
    request_body = _resolved(operations[method.lower()].get("requestBody"))
    if request_body is None:
        _check_empty(where, body)
        return
    content: dict[str, Any] = request_body["content"]
    if _JSON in content:
        instance = _decoded(where, body)
        _check_instance(where, instance, _request_validator(template, method.lower()), "")
    # A binary body (pictures, attachments) has no shape to check.


def validate_schema(schema_name: str, instance: Any) -> None:
    """Validate a decoded JSON value against a named schema (contract or local, e.g. Meeting)."""
    _check_instance(f"{schema_name} instance", instance, _named_validator(schema_name), "")


# ---------------------------------------------------------------------------------------------
# Loading and amending the contract


@dataclass(frozen=True)
class _Template:
    template: str
    # None stands for a `{parameter}` segment.
    segments: tuple[str | None, ...]

    def matches(self, segments: list[str]) -> bool:
        return len(segments) == len(self.segments) and all(
            own is None or own == given for own, given in zip(self.segments, segments, strict=True)
        )

    def precedence(self) -> tuple[int, ...]:
        """Sorts literal segments before parameters, left to right (JAX-RS rule)."""
        return tuple(1 if segment is None else 0 for segment in self.segments)


@dataclass(frozen=True)
class _Contract:
    # The spec as written, except that status keys are strings and Meeting is local.
    document: dict[str, Any]
    # The named schemas as JSON Schema draft 4: closed, allOf merged, amended.
    schemas: dict[str, Any]
    registry: Registry[Any]
    templates: tuple[_Template, ...]


@functools.cache
def _contract() -> _Contract:
    location = contract_path()
    if not location.is_file():
        raise FileNotFoundError(
            f"Chats API contract not found at {location} (set {CONTRACT_PATH_ENV})"
        )
    raw = _with_string_status_keys(yaml.safe_load(location.read_text(encoding="utf-8")))
    source = _with_local_meeting(raw)
    schemas = {
        name: _normalised(schema, source)
        for name, schema in source["components"]["schemas"].items()
    }
    _amend(schemas)
    for schema in schemas.values():
        Draft4Validator.check_schema(schema)
    registry: Registry[Any] = Registry().with_resource(
        _SCHEMAS_URI, DRAFT4.create_resource({"components": {"schemas": schemas}})
    )
    templates = tuple(
        _Template(template, tuple(_template_segment(s) for s in _segments(template)))
        for template in raw["paths"]
    )
    return _Contract(document=source, schemas=schemas, registry=registry, templates=templates)


def _with_string_status_keys(raw: dict[str, Any]) -> dict[str, Any]:
    # YAML reads `200:` as an int; JSON pointers and lookups want strings.
    for item in raw["paths"].values():
        for method, operation in item.items():
            if method in _HTTP_METHODS:
                operation["responses"] = {str(k): v for k, v in operation["responses"].items()}
    return raw


def _with_local_meeting(raw: dict[str, Any]) -> dict[str, Any]:
    source = copy.deepcopy(raw)
    schemas = source["components"]["schemas"]
    clashes = set(schemas) & set(MEETING_SCHEMAS)
    assert not clashes, f"the contract now defines {clashes}; revisit the local Meeting schema"
    schemas.update(copy.deepcopy(MEETING_SCHEMAS))
    replaced = _replace_refs(source, _MEETING_REF, "#/components/schemas/Meeting")
    assert replaced, f"the contract no longer refers to {_MEETING_REF}; revisit the local Meeting"
    return source


def _replace_refs(node: Any, old: str, new: str) -> int:
    count = 0
    if isinstance(node, dict):
        if node.get("$ref") == old:
            node["$ref"] = new
            count += 1
        for value in node.values():
            count += _replace_refs(value, old, new)
    elif isinstance(node, list):
        for value in node:
            count += _replace_refs(value, old, new)
    return count


def _amend(schemas: dict[str, Any]) -> None:
    """The deliberate deviations from the YAML."""
    # DECISIONS.md#serving, behaviour.md#json-responses: no nulls, and clearedAt is null until the
    # history has been cleared once, although the spec lists it as required.
    _drop_required(schemas["RoomUserSettings"], "clearedAt")
    _drop_required(schemas["MemberInserted"], "clearedAt")
    # DECISIONS.md#rooms: membersIds is write-only; with every object closed, a Room with it fails.
    assert "membersIds" in schemas["Room"]["properties"], "Room.membersIds left the contract"
    del schemas["Room"]["properties"]["membersIds"]
    # DECISIONS.md#rooms: POST /rooms/{roomId}/members without historyCleared treats it as false.
    _drop_required(schemas["MemberToInsert"], "historyCleared")
    # DECISIONS.md#previews: output_format also accepts Webp.
    schemas["ImageTypeEnum"]["enum"].append("Webp")
    # DECISIONS.md#errors: an error body always carries both fields.
    schemas["Error"]["required"] = ["message", "traceId"]


def _drop_required(schema: dict[str, Any], field: str) -> None:
    required: list[str] = schema.get("required", [])
    assert field in required, f"{field} is no longer required by the contract; drop the deviation"
    required.remove(field)
    if not required:
        del schema["required"]  # draft 4 forbids an empty `required`


def _normalised(node: Any, source: dict[str, Any]) -> Any:
    """An OpenAPI 3.0 schema as a closed JSON Schema draft 4 schema with absolute `$ref`s."""
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return {"$ref": _absolute(node["$ref"])}
    if _is_object_schema(node, source):
        return _closed_object(node, source)
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in _OPENAPI_ONLY_KEYWORDS:
            continue
        if key in ("items", "not", "additionalProperties") and isinstance(value, dict):
            result[key] = _normalised(value, source)
        elif key in ("allOf", "anyOf", "oneOf"):
            result[key] = [_normalised(part, source) for part in value]
        else:
            result[key] = value
    return _with_nullable(result, node)


def _closed_object(node: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """Merges allOf parts into one object schema and forbids unknown properties.

    The spec never sets additionalProperties, but our responses must not carry fields the
    contract does not name, so that a misspelt field fails.
    """
    properties: dict[str, Any] = {}
    required: list[str] = []
    for part in node.get("allOf", []):
        flat = _normalised(_dereferenced(part, source), source)
        properties.update(flat.get("properties", {}))
        required.extend(flat.get("required", []))
    for name, schema in node.get("properties", {}).items():
        properties[name] = _normalised(schema, source)
    required.extend(node.get("required", []))
    result: dict[str, Any] = {
        key: value
        for key, value in node.items()
        if key not in _OPENAPI_ONLY_KEYWORDS and key not in ("allOf", "properties", "required")
    }
    result["type"] = "object"
    result["properties"] = properties
    if required:
        result["required"] = list(dict.fromkeys(required))
    result.setdefault("additionalProperties", False)
    return _with_nullable(result, node)


def _with_nullable(result: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if node.get("nullable") is True and "type" in result:
        result["type"] = [result["type"], "null"]
        if "enum" in result:
            result["enum"] = [*result["enum"], None]
    return result


def _is_object_schema(node: dict[str, Any], source: dict[str, Any]) -> bool:
    if node.get("type") == "object" or "properties" in node:
        return True
    parts: list[dict[str, Any]] = node.get("allOf") or []
    return bool(parts) and all(
        _is_object_schema(_dereferenced(part, source), source) for part in parts
    )


def _dereferenced(node: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = _pointer(source, node["$ref"])
    return node


def _pointer(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references are supported, got {ref}"
    target: Any = document
    for token in ref[2:].split("/"):
        target = target[token.replace("~1", "/").replace("~0", "~")]
    return target


def _absolute(ref: str) -> str:
    assert ref.startswith("#/components/schemas/"), f"unexpected schema reference {ref}"
    return _SCHEMAS_URI + ref


def _resolved(node: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if node is None else _dereferenced(node, _contract().document)


# ---------------------------------------------------------------------------------------------
# Path matching


def _segments(path: str) -> list[str]:
    path = path.split("?", 1)[0].split("#", 1)[0]
    assert path.startswith("/"), f"expected an absolute path, got {path!r}"
    if path.endswith("/"):
        path = path[:-1]  # DECISIONS.md#serving: a trailing slash is optional on every path
    return path[1:].split("/") if path else []


def _template_segment(segment: str) -> str | None:
    return None if segment.startswith("{") and segment.endswith("}") else segment


def _match_template(path: str) -> str:
    segments = _segments(path)
    templates = _contract().templates
    # Offset 0 is the path at the root; a larger one skips a base path (DECISIONS.md#serving). The
    # shortest prefix wins, so `/services/chats/health/live` is /health/live.
    for offset in range(len(segments)):
        candidates = [t for t in templates if t.matches(segments[offset:])]
        if candidates:
            return min(candidates, key=_Template.precedence).template
    raise AssertionError(f"{path}: no path of the contract matches")


# ---------------------------------------------------------------------------------------------
# Responses


def _declared_response(template: str, method: str, status: int) -> dict[str, Any] | None:
    operation = _contract().document["paths"][template][method.lower()]
    return _resolved(operation["responses"].get(str(status)))


def _is_binary_success(template: str, method: str) -> bool:
    declared = _declared_response(template, method, 200)
    return declared is not None and _BINARY in (declared.get("content") or {})


def _fail_undeclared(where: str, template: str, method: str) -> NoReturn:
    statuses = sorted(_contract().document["paths"][template][method.lower()]["responses"])
    raise AssertionError(
        f"{where}: status not declared for {method.upper()} {template} "
        f"(declared: {', '.join(statuses)}; tolerated errors: "
        f"{', '.join(str(s) for s in sorted(UNDECLARED_ERROR_STATUSES))})"
    )


def _schema_label(media: dict[str, Any]) -> str:
    schema: dict[str, Any] = media.get("schema", {})
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "$ref" in schema.get("items", {}):
        return str(schema["items"]["$ref"]).rsplit("/", 1)[-1] + "[]"
    return "the declared schema"


def _check_empty(where: str, body: Any) -> None:
    if body not in (None, b"", ""):
        raise AssertionError(f"{where}: expected an empty body, got {_preview(body)}")


def _check_not_json(where: str, content_type: str | None) -> None:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == _JSON or media.endswith("+json"):
        raise AssertionError(f"{where}: expected binary content, got Content-Type {content_type!r}")


def _check_json(
    where: str, body: Any, content_type: str | None, validator: Draft4Validator, label: str
) -> None:
    if content_type != _JSON:
        raise AssertionError(
            f"{where}: expected Content-Type exactly {_JSON!r} (DECISIONS.md#serving), "
            f"got {content_type!r}"
        )
    _check_instance(where, _decoded(where, body), validator, label)


def _decoded(where: str, body: Any) -> Any:
    if body is None or body in (b"", ""):
        raise AssertionError(f"{where}: expected a JSON body, got an empty one")
    if isinstance(body, bytes | bytearray | str):
        try:
            return json.loads(body)
        except ValueError as error:
            raise AssertionError(f"{where}: body is not JSON ({error}): {_preview(body)}") from None
    return body


def _check_instance(where: str, instance: Any, validator: Draft4Validator, label: str) -> None:
    errors = sorted(validator.iter_errors(instance), key=_error_order)
    if not errors:
        return
    against = f" against {label}" if label else ""
    lines = [f"  at {_json_path(error.absolute_path)}: {error.message}" for error in errors[:10]]
    if len(errors) > 10:
        lines.append(f"  ... and {len(errors) - 10} more")
    raise AssertionError(
        f"{where}: body does not conform{against}:\n"
        + "\n".join(lines)
        + f"\nbody: {_preview(instance)}"
    )


def _error_order(error: ValidationError) -> tuple[str, str]:
    return (_json_path(error.absolute_path), error.message)


def _json_path(parts: Iterable[str | int]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _preview(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        text = value[:400].decode("utf-8", "replace")
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, default=str)
    return text if len(text) <= 400 else text[:400] + "..."


# ---------------------------------------------------------------------------------------------
# Validators (compiled once per schema)

_UUID = re.compile(r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_DATE_TIME = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\Z")
_EMAIL = re.compile(r"\A[^@\s]+@[^@\s]+\Z")

_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("uuid")
def _is_uuid(value: object) -> bool:
    # Lower case only: clients compare identifiers from REST and events as plain strings.
    return not isinstance(value, str) or _UUID.match(value) is not None


@_FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    # DECISIONS.md#serving: UTC with a Z suffix and exactly milliseconds: 2024-09-10T10:00:00.123Z.
    if not isinstance(value, str):
        return True
    if _DATE_TIME.match(value) is None:
        return False
    try:
        datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return False
    return True


@_FORMATS.checks("email")
def _is_email(value: object) -> bool:
    return not isinstance(value, str) or _EMAIL.match(value) is not None


def _validator(schema: dict[str, Any]) -> Draft4Validator:
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema, registry=_contract().registry, format_checker=_FORMATS)


@functools.cache
def _response_validator(template: str, method: str, status: int) -> Draft4Validator:
    declared = _declared_response(template, method, status)
    assert declared is not None
    schema = declared["content"][_JSON]["schema"]
    return _validator(_normalised(schema, _contract().document))


@functools.cache
def _request_validator(template: str, method: str) -> Draft4Validator:
    request_body = _resolved(_contract().document["paths"][template][method].get("requestBody"))
    assert request_body is not None
    return _validator(_normalised(request_body["content"][_JSON]["schema"], _contract().document))


@functools.cache
def _named_validator(schema_name: str) -> Draft4Validator:
    if schema_name not in _contract().schemas:
        raise AssertionError(f"no schema named {schema_name!r} in the contract")
    return _validator({"$ref": f"{_SCHEMAS_URI}#/components/schemas/{schema_name}"})


def _error_validator() -> Draft4Validator:
    return _named_validator("Error")
