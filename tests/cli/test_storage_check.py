"""`wschats storage check [--repair]`: stored files without a row, rows without stored files,
on local storage and on S3 (moto on 127.0.0.1), with SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import Cli, fresh_database
from tests.files.support import (
    S3_ACCESS_KEY,
    S3_SECRET_KEY,
    Stored,
    image_bytes,
    stored_view,
)
from wschats.config import Settings
from wschats.devtools.servers import ServerProcess, create_user
from wschats.domain.escapes import encode_text


@pytest.fixture(params=["local", "s3"])
def storage_cli(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> Iterator[tuple[Cli, Settings]]:
    """A fresh database and storage, and the settings to look at the storage from outside."""
    with fresh_database(backend, tmp_path / "data") as env:
        settings = Settings(data_dir=tmp_path / "data")
        if request.param == "s3":
            endpoint = request.getfixturevalue("s3_endpoint")
            bucket = f"check-{uuid.uuid4().hex[:16]}"
            env |= {
                "WSC_STORAGE_URL": f"s3://{bucket}",
                "WSC_S3_ENDPOINT_URL": endpoint,
                "WSC_S3_ACCESS_KEY": S3_ACCESS_KEY,
                "WSC_S3_SECRET_KEY": S3_SECRET_KEY,
                "WSC_S3_CREATE_BUCKET": "true",
            }
            settings = Settings(
                data_dir=tmp_path / "data", storage_url=f"s3://{bucket}", s3_endpoint_url=endpoint
            )
        yield Cli(env), settings


def serve(cli: Cli, log: Path) -> ServerProcess:
    server = ServerProcess(env=cli.env, log_path=log)
    server.start(timeout=60)
    return server


async def upload(client: httpx.AsyncClient, path: str, data: bytes, name: str) -> httpx.Response:
    picture = path.endswith("picture")
    headers = {"fileName": encode_text(name), "mimeType": "image/png" if picture else "text/plain"}
    if picture:
        return await client.put(path, content=data, headers=headers)
    return await client.post(path, content=data, headers=headers)


async def test_check_and_repair(storage_cli: tuple[Cli, Settings], tmp_path: Path) -> None:
    cli, settings = storage_cli
    database_url = cli.env.get(
        "WSC_DATABASE_URL", f"sqlite:///{(settings.data_dir / 'wschats.db').resolve()}"
    )
    _, token = await create_user(database_url, "alice")
    bob, _ = await create_user(database_url, "bob")
    carol, _ = await create_user(database_url, "carol")
    assert "storage and database agree" in cli.ok("storage", "check", "--grace", "0")

    server = serve(cli, tmp_path / "server.log")
    try:
        async with httpx.AsyncClient(
            base_url=server.url, cookies={"ZM_AUTH_TOKEN": token}, timeout=30
        ) as client:
            members = [str(bob), str(carol)]
            created = await client.post(
                "/rooms", json={"name": "g", "type": "group", "membersIds": members}
            )
            room = created.json()["id"]
            kept = await upload(client, f"/rooms/{room}/attachments", b"kept", "k.txt")
            lost = await upload(client, f"/rooms/{room}/attachments", b"lost", "l.txt")
            picture = await upload(client, f"/rooms/{room}/picture", image_bytes(), "p.png")
            assert (kept.status_code, lost.status_code, picture.status_code) == (201, 201, 204)
            kept_id, lost_id = kept.json()["id"], lost.json()["id"]
            assert "pictureUpdatedAt" in (await client.get(f"/rooms/{room}")).json()
    finally:
        server.stop()

    async with stored_view(settings) as stored:
        picture_key = next(
            k for k in await stored.keys() if k not in (f"files/{kept_id}", f"files/{lost_id}")
        )
        stray, stray_preview = f"files/{uuid.uuid4()}", f"previews/{uuid.uuid4()}/thumb-1"
        preview_of_kept = f"previews/{kept_id}/thumb-1"
        for key in (stray, stray_preview, preview_of_kept, "files/not-an-id"):
            await stored.write(key, b"x")
        await _remove(stored, f"files/{lost_id}")
        await _remove(stored, picture_key)

        report = cli.run("storage", "check", "--grace", "0")
        assert report.code == 1, report
        lines = report.out.splitlines()
        assert f"stored without a row: {stray}" in lines
        assert f"stored without a row: {stray_preview}" in lines
        assert "stored without a row: files/not-an-id" in lines
        assert f"row without stored bytes: {lost_id} (files/{lost_id})" in lines
        assert any(
            line.startswith("row without stored bytes: ") and picture_key in line for line in lines
        )
        assert not any(kept_id in line for line in lines)  # its preview belongs to a row
        assert len([line for line in lines if line.startswith(("stored", "row"))]) == 5

        repaired = cli.run("storage", "check", "--grace", "0", "--repair")
        assert repaired.code == 0, repaired
        assert "removed 3 stored files and 2 rows" in repaired.out
        assert "storage and database agree" in cli.ok("storage", "check", "--grace", "0")
        assert sorted(await stored.keys()) == sorted([f"files/{kept_id}", preview_of_kept])

    server = serve(cli, tmp_path / "again.log")
    try:
        async with httpx.AsyncClient(
            base_url=server.url, cookies={"ZM_AUTH_TOKEN": token}, timeout=30
        ) as client:
            assert (await client.get(f"/attachments/{kept_id}/download")).content == b"kept"
            assert (await client.get(f"/attachments/{lost_id}")).status_code == 404
            assert (await client.get(f"/rooms/{room}/picture")).status_code == 404
            # The picture is gone, so the room no longer announces one.
            assert "pictureUpdatedAt" not in (await client.get(f"/rooms/{room}")).json()
    finally:
        server.stop()


async def _remove(stored: Stored, key: str) -> None:
    if stored.root is not None:
        (stored.root / key).unlink()
        return
    assert stored.client is not None and stored.bucket is not None
    await stored.client.delete_object(Bucket=stored.bucket, Key=key)
