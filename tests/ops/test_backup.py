"""README's Backups section, run as written: a backup taken while the server runs, restored
into a new data folder, serves the same rooms and files to the same tokens.

The two shell blocks come from README.md, so the test fails when the README drifts. The
restore block's last line (`wschats serve`) is left to the test, which starts the server on a
free port instead.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
from PIL import Image

from wschats.devtools.servers import WSCHATS, ServerProcess

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 300


def backup_blocks() -> tuple[str, str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Backups\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    assert len(blocks) >= 2, "README.md's Backups section should show a backup and a restore"
    backup, restore = blocks[0], blocks[1]
    serve = [line for line in restore.splitlines() if line.rstrip().endswith("wschats serve")]
    assert len(serve) == 1, "the restore block should end by starting the server"
    return backup, restore.replace(serve[0], "")


def run(block: str, cwd: Path, env: dict[str, str]) -> None:
    completed = subprocess.run(
        ["bash", "-e", "-u", "-o", "pipefail"],
        input=block,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert completed.returncode == 0, f"{completed.stdout}\n{completed.stderr}"


def cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    completed = subprocess.run(
        [WSCHATS, *args], env=env, cwd=cwd, capture_output=True, text=True, check=True
    )
    return completed.stdout.strip()


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (6, 4), "blue").save(buffer, "PNG")
    return buffer.getvalue()


def test_a_restored_backup_serves_the_same_rooms_and_files(tmp_path: Path) -> None:
    backup, restore = backup_blocks()
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSC_")}
    data = {**env, "WSC_DATA_DIR": "./data"}
    people = {
        name: cli(data, tmp_path, "user", "add", "--email", f"{name}@example.com", "--name", name)
        for name in ("alice", "bob", "carol")
    }
    token = cli(data, tmp_path, "token", "issue", "--email", "alice@example.com")
    auth = {"Authorization": f"Bearer {token}"}
    attachment = uuid.uuid4().bytes * 1000
    original = ServerProcess(
        env={**data, "WSC_DATA_DIR": str(tmp_path / "data")}, log_path=tmp_path / "a.log"
    )
    original.start(timeout=60)
    try:
        with httpx.Client(base_url=original.url, headers=auth, timeout=30) as client:
            room = client.post(
                "/rooms",
                json={
                    "type": "group",
                    "name": "Kept",
                    "membersIds": [people["bob"], people["carol"]],
                },
            ).json()["id"]
            uploaded = client.post(
                f"/rooms/{room}/attachments",
                content=attachment,
                headers={"fileName": "kept.bin", "mimeType": "application/octet-stream"},
            )
            assert uploaded.status_code == 201
            picture = client.put(
                f"/rooms/{room}/picture",
                content=png(),
                headers={"fileName": "room.png", "mimeType": "image/png"},
            )
            assert picture.status_code == 204
            before = client.get("/rooms", params={"extraFields": ["members", "settings"]}).json()
            run(backup, tmp_path, env)  # while the server runs
    finally:
        original.stop()

    run(restore, tmp_path, env)
    restored = ServerProcess(
        env={**env, "WSC_DATA_DIR": str(tmp_path / "restored")}, log_path=tmp_path / "b.log"
    )
    restored.start(timeout=60)
    try:
        with httpx.Client(base_url=restored.url, headers=auth, timeout=30) as client:
            after = client.get("/rooms", params={"extraFields": ["members", "settings"]}).json()
            file_id = uploaded.json()["id"]
            download = client.get(f"/attachments/{file_id}/download")
            room_picture = client.get(f"/rooms/{room}/picture")
    finally:
        restored.stop()

    assert after == before
    assert download.status_code == 200 and download.content == attachment
    assert room_picture.status_code == 200 and room_picture.content == png()
