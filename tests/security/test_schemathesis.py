"""Schemathesis against the server's own /openapi.json, against the contract, and in stateful
sequences, through the ASGI app (no 5xx, no response that breaks its schema).

Every response is also checked by tests/contract.py (the contract as DECISIONS.md amends it,
with closed objects and exact formats) wherever the path is a contract path.

Generation is deterministic (`derandomize`) and bounded (MAX_EXAMPLES per operation,
STATEFUL_EXAMPLES scenarios), so a run takes a few minutes on both databases. The requests
carry the fuzzing user's `Authorization: Bearer` token. Before each operation the database is
emptied (users kept) and a small world is built again (rooms of every type, attachments,
pictures, a meeting); identifiers are drawn from that world's ids as well as at random, so
requests reach past "not found"; previews also get areas they can be rendered at. Uploads are
fuzzed too: attachments with random bytes are stored, while random bytes never pass the
picture uploads' image check (400), so those exercise their refusals only.

What Schemathesis does not reach is fuzzed with strategies of this module: Range, If-Range
and If-None-Match on downloads, fileName and mimeType on uploads, originalMessageSentAt of
forwarded messages. The run ends with a summary of the cases sent and their statuses.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import pytest_asyncio
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from PIL import Image
from schemathesis import checks
from schemathesis.python import asgi
from schemathesis.specs.openapi.formats import unregister_string_format

from tests.conftest import PG_ADMIN_URL
from tests.contract import operation_for, validate_response
from tests.security.fuzz_report import FuzzReport
from tests.security.fuzz_report import fuzz_report as report_of
from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.db.migrate import upgrade
from wschats.adapters.db.tables import metadata
from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.api.openapi import MEETING_SCHEMAS, contract
from wschats.app import create_app
from wschats.config import Settings
from wschats.devtools.servers import create_user
from wschats.domain.escapes import encode_text
from wschats.ports import NewUser

MAX_EXAMPLES = 25
STATEFUL_EXAMPLES = 60
STATEFUL_STEPS = 8
PASSWORD = "fuzzing password"
LOGOUT = "DELETE /auth/token"
AREAS = ["40x30", "0x0", "0x16", "16x0", "1x1", "320x320"]
# Rows the fuzzing must not lose between operations: the users and their tokens.
KEPT_TABLES = {"directory_user", "directory_token"}

SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


def contract_conformance(ctx: Any, response: Any, case: Any) -> bool | None:
    """tests/contract.py on every response of a contract path."""
    method = case.operation.method.upper()
    path = response.request.path_url
    try:
        operation_for(method, path)
    except AssertionError:
        return None  # an operation wschats adds
    # Headers are lists of values here; two Content-Type headers would be an error too.
    content_type = ", ".join(response.headers.get("content-type", [])) or None
    validate_response(method, path, response.status_code, response.content, content_type)
    return True


SERVER_CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    contract_conformance,
]
# The contract declares no error responses on most operations (DECISIONS.md#errors adds them); the
# checker decides which statuses are allowed there (tests/contract.py UNDECLARED_ERROR_STATUSES).
CONTRACT_CHECKS = [checks.not_a_server_error, contract_conformance]
STATEFUL_CHECKS = [*SERVER_CHECKS, checks.use_after_free, checks.ensure_resource_availability]


# ------------------------------------------------------------------------------------------
# The server under test


@dataclass
class FuzzServer:
    app: Any
    database_url: str
    email: str
    token: str
    user_ids: list[str]  # the fuzzing user first
    engine: sa.Engine = field(init=False)

    def __post_init__(self) -> None:
        self.engine = sa.create_engine(_sync_url(self.database_url))

    def client(self) -> asgi.ASGIClient:
        return asgi.get_client(self.app)

    def headers(self, label: str) -> dict[str, str]:
        """The credentials for one request; a logout gets a token of its own."""
        token = self.token
        if label == LOGOUT:
            with self.client() as client:
                response = client.post(
                    "/auth/login", json={"email": self.email, "password": PASSWORD}
                )
            assert response.status_code == 200, response.text
            token = response.json()["zmToken"]
        return {"Authorization": f"Bearer {token}"}

    def assert_session_kept(self) -> None:
        """The fuzzing user's token still works: nothing the fuzzing sent logged it out."""
        with self.client() as client:
            response = client.get("/users/capabilities", headers=self.headers(""))
        assert response.status_code == 200, f"the fuzzing lost its session: {response.text}"

    def reset(self) -> None:
        """Empty every table but the users (what a test starts from)."""
        with self.engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                if table.name not in KEPT_TABLES:
                    conn.execute(table.delete())

    def build_world(self) -> World:
        """Rooms of every type, files, pictures and a meeting, owned by the fuzzing user."""
        me, alice, bob, carol = self.user_ids
        auth = self.headers("")
        with self.client() as client:

            def post(path: str, body: Any) -> str:
                response = client.post(path, json=body, headers=auth)
                assert response.status_code == 201, (path, response.text)
                return str(response.json()["id"])

            def upload(method: str, path: str, name: str, mime: str, data: bytes) -> Any:
                headers = {**auth, "fileName": encode_text(name), "mimeType": mime}
                response = client.request(method, path, data=data, headers=headers)
                assert response.status_code in (201, 204), (path, response.text)
                return response.json() if response.content else None

            group = post("/rooms", {"type": "group", "name": "g", "membersIds": [alice, bob]})
            workspace = post(
                "/rooms", {"type": "workspace", "name": "w", "membersIds": [bob, carol]}
            )
            rooms = [
                group,
                workspace,
                post("/rooms", {"type": "channel", "name": "c", "parentId": workspace}),
                post("/rooms", {"type": "temporary", "name": "t"}),
                post("/rooms", {"type": "one_to_one", "membersIds": [alice]}),
            ]
            attachments = f"/rooms/{group}/attachments"
            files = [
                upload("POST", attachments, "a.png", "image/png", _image("PNG"))["id"],
                upload("POST", attachments, "a.pdf", "application/pdf", _image("PDF"))["id"],
            ]
            upload("PUT", f"/rooms/{group}/picture", "g.png", "image/png", _image("PNG"))
            upload("PUT", f"/users/{me}/picture", "me.png", "image/png", _image("PNG"))
            meeting = post("/meetings", {"roomId": group})
        return World(users=list(self.user_ids), rooms=rooms, files=files, meetings=[meeting])


@dataclass(frozen=True)
class World:
    users: list[str]
    rooms: list[str]
    files: list[str]  # an image and a PDF
    meetings: list[str]

    @property
    def ids(self) -> list[str]:
        return [*self.users, *self.rooms, *self.files, *self.meetings]


def _image(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (20, 120, 200)).save(buffer, fmt)
    return buffer.getvalue()


def _sync_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(scope="module")
def fuzz_database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of its own: the fuzzing app lives outside the test session's event loop."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('fuzz-db') / 'wschats.db'}"
        return
    import psycopg

    name = f"wsc_fuzz_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fuzz_server(
    fuzz_database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FuzzServer]:
    upgrade(fuzz_database)
    email = f"fuzzer-{uuid.uuid4().hex[:6]}@example.com"
    others = [await create_user(fuzz_database, name) for name in ("alice", "bob", "carol")]
    # The fuzzing user has a password, so that each logout can log in again first.
    database = SqlDatabase(fuzz_database)
    try:
        directory = DirectoryIdentity(database)
        (me,) = await directory.add_users([NewUser(email=email, name="Fuzzer", password=PASSWORD)])
        token = await directory.issue_token(me, 3600)
    finally:
        await database.close()
    settings = Settings(
        data_dir=Path(tmp_path_factory.mktemp("fuzz-data")),
        database_url=fuzz_database,
        base_path="/services/chats",
        preview_workers=1,
        # Every fuzzed login comes from one address: its failures must not lock out the
        # fuzzing user's own logins (the limits have tests of their own).
        login_failures_per_address=0,
        login_failures_per_account=0,
    )
    server = FuzzServer(
        app=create_app(settings),
        database_url=fuzz_database,
        email=email,
        token=token,
        user_ids=[str(me), *(str(user_id) for user_id, _ in others)],
    )
    try:
        yield server
    finally:
        # The app runs in Schemathesis's event loop thread; stop it there.
        asgi.shutdown_lifespans()
        server.engine.dispose()


@pytest.fixture
def report(pytestconfig: pytest.Config) -> FuzzReport:
    return report_of(pytestconfig)


@pytest.fixture
def known_ids() -> Iterator[Callable[[list[str]], None]]:
    """Draw `format: uuid` values from the given ids most of the time (Schemathesis keeps
    string formats in one registry: restored after the test)."""

    def use(ids: list[str]) -> None:
        known = st.sampled_from(ids)
        schemathesis.openapi.format("uuid", st.one_of(known, known, known, st.uuids().map(str)))

    yield use
    unregister_string_format("uuid")


# ------------------------------------------------------------------------------------------
# The operations, known at collection time from a fresh app's document and the contract


def _labels(document: dict[str, Any]) -> list[str]:
    return [
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    ]


SERVER_OPERATIONS = _labels(create_app(Settings(data_dir=Path("unused"))).openapi())
CONTRACT_OPERATIONS = _labels(contract())


def loadable_contract() -> dict[str, Any]:
    """The packaged contract as written, except for the two things that keep it from being
    used at all: the Meeting schema of the separate meeting API (not in the contract folder:
    the local one of wschats.api.openapi) and `type: long`, which is no OpenAPI type."""
    document = contract()
    document["components"]["schemas"].update(MEETING_SCHEMAS)
    responses = document["components"]["responses"]
    responses["200GetRoomMeetingResponse"]["content"]["application/json"]["schema"] = {
        "$ref": "#/components/schemas/Meeting"
    }
    document["components"]["parameters"]["headerContentLength"]["schema"] = {
        "type": "integer",
        "format": "int64",
        "minimum": 0,
    }
    return document


def _fuzz(
    server: FuzzServer,
    schema: Any,
    label: str,
    known_ids: Callable[[list[str]], None],
    checks_to_run: list[Any],
    record: Callable[[int], None],
) -> None:
    server.reset()
    world = server.build_world()
    known_ids(world.ids)
    # Areas a preview can be rendered at, next to the generated ones (mostly too large).
    renderable = st.fixed_dictionaries(
        {"fileId": st.sampled_from(world.files), "area": st.sampled_from(AREAS)}
    )

    @schema.hook("before_generate_path_parameters")  # type: ignore[untyped-decorator]
    def preview_areas(context: Any, strategy: Any) -> Any:
        if context.operation is not None and "{area}" in context.operation.path:
            return st.one_of(strategy, renderable)
        return strategy

    method, path = label.split(" ", 1)
    operation = schema[path][method]
    seen: dict[int, int] = {}

    @SETTINGS
    @hypothesis.given(operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(headers=server.headers(label))
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        record(response.status_code)
        case.validate_response(response, checks=checks_to_run)

    run()
    assert seen, f"{label}: nothing was sent"
    server.assert_session_kept()


def _content_length_schemas(document: dict[str, Any]) -> list[Any]:
    """The schema of every Content-Length header parameter of every operation."""
    parameters = document["components"]["parameters"]
    found = []
    for item in document["paths"].values():
        for method, operation in item.items():
            if method not in ("get", "put", "post", "delete", "patch"):
                continue
            for parameter in operation.get("parameters", []):
                if "$ref" in parameter:
                    parameter = parameters[parameter["$ref"].rsplit("/", 1)[-1]]
                if parameter["in"] == "header" and parameter["name"].lower() == "content-length":
                    found.append(parameter["schema"])
    return found


def test_the_fuzzed_documents_declare_content_length_as_an_integer(
    fuzz_server: FuzzServer,
) -> None:
    """The contract writes `type: long` for the three upload operations' Content-Length,
    which Schemathesis 4 refuses; both documents fuzzed here read it as an integer."""
    assert [s["type"] for s in _content_length_schemas(contract())] == ["long"] * 3
    with fuzz_server.client() as client:
        served = client.get("/openapi.json").json()
    for document in (loadable_contract(), served):
        schemas = _content_length_schemas(document)
        assert len(schemas) == 3
        assert all(s == {"type": "integer", "format": "int64", "minimum": 0} for s in schemas)
        assert "'long'" not in repr(document)


@pytest.mark.parametrize("label", SERVER_OPERATIONS)
def test_server_document(
    fuzz_server: FuzzServer,
    label: str,
    known_ids: Callable[[list[str]], None],
    report: FuzzReport,
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_server.app)
    record = partial(report.add, "schemathesis, the server's document")
    _fuzz(fuzz_server, schema, label, known_ids, SERVER_CHECKS, record)


@pytest.mark.parametrize("label", CONTRACT_OPERATIONS)
def test_contract(
    fuzz_server: FuzzServer,
    label: str,
    known_ids: Callable[[list[str]], None],
    report: FuzzReport,
) -> None:
    schema = schemathesis.openapi.from_dict(loadable_contract())
    schema.app = fuzz_server.app
    record = partial(report.add, "schemathesis, the contract")
    _fuzz(fuzz_server, schema, label, known_ids, CONTRACT_CHECKS, record)


def test_stateful(
    fuzz_server: FuzzServer, known_ids: Callable[[list[str]], None], report: FuzzReport
) -> None:
    """Sequences that follow the links Schemathesis infers (a created room's id into the
    room's operations, and so on); every scenario starts from an empty database."""
    loaded = schemathesis.openapi.from_asgi("/openapi.json", fuzz_server.app)
    schema = loaded.exclude(method="DELETE", path="/auth/token")  # it would end the session
    known_ids(fuzz_server.user_ids)
    _, alice, bob, carol = fuzz_server.user_ids
    # Valid creations next to the generated ones, so that sequences have rooms to work on.
    rooms = st.sampled_from(
        [
            {"type": "temporary", "name": "t"},
            {"type": "group", "name": "g", "membersIds": [alice, bob]},
            {"type": "workspace", "name": "w", "membersIds": [bob, carol]},
            {"type": "one_to_one", "membersIds": [alice]},
        ]
    )

    @schema.hook("before_generate_body")
    def room_bodies(context: Any, strategy: Any) -> Any:
        if context.operation is not None and context.operation.label == "POST /rooms":
            return st.one_of(strategy, rooms)
        return strategy

    statuses: dict[tuple[str, int], int] = {}

    class Scenario(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": fuzz_server.headers(case.operation.label)}

        def after_call(self, response: Any, case: Any) -> None:
            key = (case.operation.label, response.status_code)
            statuses[key] = statuses.get(key, 0) + 1
            report.add("schemathesis, stateful sequences", response.status_code)

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(
                response, checks=STATEFUL_CHECKS, transport_kwargs=kwargs or None
            )

        def teardown(self) -> None:
            fuzz_server.reset()

    fuzz_server.reset()
    # Replaying a scenario (shrinking) against a server whose state moved on is not
    # reproducible, so failures are reported as found.
    Scenario.run(
        settings=hypothesis.settings(
            SETTINGS,
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=STATEFUL_STEPS,
            phases=[Phase.explicit, Phase.generate],
        )
    )
    created = statuses.get(("POST /rooms", 201), 0)
    assert created > 0, f"no room was created, the sequences stayed shallow: {statuses}"
    followed = {label for (label, status), _ in statuses.items() if status < 300 and "{" in label}
    assert followed, f"no link into a created resource succeeded: {statuses}"
    fuzz_server.assert_session_kept()


# ------------------------------------------------------------------------------------------
# Headers and dates Schemathesis does not fuzz: hypothesis strategies of their own

HEADER_SETTINGS = hypothesis.settings(SETTINGS, max_examples=150)
# What a header value can hold on the wire: visible ASCII, space, tab and obs-text bytes.
HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=60,
)
# Numbers from small to far past Python's 4300-digit conversion limit.
NUMBERS = st.one_of(
    st.integers(0, 300).map(str),  # inside the files
    st.integers(0, 2**70).map(str),
    st.integers(1, 6000).map(lambda digits: "9" * digits),
)
RANGES = st.one_of(
    st.builds("bytes={}-{}".format, NUMBERS, NUMBERS),
    st.builds("bytes={}-".format, NUMBERS),
    st.builds("bytes=-{}".format, NUMBERS),
    st.lists(st.builds("{}-{}".format, NUMBERS, NUMBERS), min_size=2, max_size=4).map(
        lambda parts: "bytes=" + ",".join(parts)
    ),
    HEADER_TEXT.map("bytes={}".format),
    HEADER_TEXT,
)
# UTC offsets up to ±23:59, the most a date-time can carry.
OFFSETS = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
    lambda minutes: f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02}:{abs(minutes) % 60:02}"
)
DATES = st.one_of(
    st.builds(
        "{}{}".format,
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)).map(
            datetime.isoformat
        ),
        st.one_of(OFFSETS, st.just("Z"), st.just("")),
    ),
    HEADER_TEXT,
    st.integers(-(10**20), 10**20),
    st.none(),
)


def _etags(ids: list[str]) -> st.SearchStrategy[str]:
    tag = st.one_of(st.sampled_from(ids).map('"{}"'.format), HEADER_TEXT.map('"{}"'.format))
    weak = st.one_of(tag, tag.map("W/{}".format))
    return st.one_of(
        st.just("*"), weak, st.lists(weak, min_size=2, max_size=4).map(", ".join), HEADER_TEXT
    )


def _wire(value: str) -> str:
    """A header value as sent: its characters are its bytes (latin-1), without the leading
    and trailing white space HTTP drops."""
    value.encode("latin-1")
    return value.strip(" \t")


def _check(response: Any, method: str, path: str, allowed: set[int]) -> None:
    assert response.status_code in allowed, (method, path, response.status_code, response.text)
    content_type = response.headers.get("content-type")
    validate_response(method, path, response.status_code, response.content, content_type)


def test_download_headers(fuzz_server: FuzzServer, report: FuzzReport) -> None:
    """Range, If-Range and If-None-Match on every download: a file, its range, 304, 416 or
    400, never an error of the server."""
    fuzz_server.reset()
    world = fuzz_server.build_world()
    me, group = world.users[0], world.rooms[0]
    downloads = [
        f"/attachments/{world.files[0]}/download",
        f"/rooms/{group}/picture",
        f"/users/{me}/picture",
    ]
    auth = fuzz_server.headers("")

    with fuzz_server.client() as client:

        @HEADER_SETTINGS
        @hypothesis.given(
            path=st.sampled_from(downloads),
            byte_range=st.none() | RANGES,
            none_match=st.none() | _etags(world.ids),
            if_range=st.none() | _etags(world.ids),
        )
        @hypothesis.example(
            path=downloads[0], byte_range="bytes=-" + "9" * 5000, none_match=None, if_range=None
        )
        def run(
            path: str, byte_range: str | None, none_match: str | None, if_range: str | None
        ) -> None:
            headers = dict(auth)
            for name, value in (
                ("Range", byte_range),
                ("If-None-Match", none_match),
                ("If-Range", if_range),
            ):
                if value is not None:
                    headers[name] = _wire(value)
            response = client.get(path, headers=headers)
            report.add("hypothesis, download headers", response.status_code)
            _check(response, "GET", path, {200, 206, 304, 400, 416})

        run()
    fuzz_server.assert_session_kept()


def test_upload_name_and_type_headers(fuzz_server: FuzzServer, report: FuzzReport) -> None:
    """fileName (escaped as the clients do, or anything) and mimeType on every upload:
    stored, or 400, never an error of the server."""
    fuzz_server.reset()
    world = fuzz_server.build_world()
    me, group = world.users[0], world.rooms[0]
    uploads = [
        ("POST", f"/rooms/{group}/attachments", b"some text", {201}),
        ("PUT", f"/rooms/{group}/picture", _image("PNG"), {204}),
        ("PUT", f"/users/{me}/picture", _image("PNG"), {204}),
    ]
    names = st.one_of(
        st.text(max_size=80).map(encode_text),
        HEADER_TEXT,
        st.text(alphabet="\\uU0123456789abcdefXZ{}", max_size=30),
    )
    mime_types = st.one_of(
        st.sampled_from(["image/png", "text/plain", "application/pdf", "", "image/"]),
        HEADER_TEXT,
    )
    auth = fuzz_server.headers("")

    with fuzz_server.client() as client:

        @HEADER_SETTINGS
        @hypothesis.given(upload=st.sampled_from(uploads), name=names, mime_type=mime_types)
        def run(upload: tuple[str, str, bytes, set[int]], name: str, mime_type: str) -> None:
            method, path, body, stored = upload
            headers = {**auth, "fileName": _wire(name), "mimeType": _wire(mime_type)}
            response = client.request(method, path, data=body, headers=headers)
            report.add("hypothesis, upload headers", response.status_code)
            _check(response, method, path, stored | {400})

        run()
    fuzz_server.assert_session_kept()


def test_forwarded_message_dates(fuzz_server: FuzzServer, report: FuzzReport) -> None:
    """originalMessageSentAt of every year, offset and shape: forwarded, or 400 (a date
    out of range included), never an error of the server."""
    fuzz_server.reset()
    world = fuzz_server.build_world()
    path = f"/rooms/{world.rooms[0]}/forward"
    auth = fuzz_server.headers("")

    with fuzz_server.client() as client:

        @HEADER_SETTINGS
        @hypothesis.given(sent_at=DATES)
        @hypothesis.example(sent_at="9999-12-31T23:59:59-23:59")
        @hypothesis.example(sent_at="0001-01-01T00:00:00+23:59")
        def run(sent_at: Any) -> None:
            message: dict[str, Any] = {"originalMessage": "<message><body>hi</body></message>"}
            if sent_at is not None:
                message["originalMessageSentAt"] = sent_at
            response = client.post(path, json=[message], headers=auth)
            report.add("hypothesis, forwarded dates", response.status_code)
            _check(response, "POST", path, {204, 400})

        run()
    fuzz_server.assert_session_kept()
