"""README's "First steps", pasted into bash as a person would, against a real `wschats serve`.

The shell block is taken from README.md as it stands, so the test fails when the README drifts
from what the server does. The only change made to it is the server's address: the test's
server listens on a free port rather than on 10000.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from wschats.devtools.servers import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ADDRESS = "127.0.0.1:10000"
RUN_TIMEOUT_S = 300


def first_steps_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## First steps\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match, "README.md's First steps has no ```sh block"
    return match.group(1)


def test_the_first_steps_block_runs_as_written(tmp_path: Path) -> None:
    block = first_steps_block()
    assert DEFAULT_ADDRESS in block
    # The block runs from the repository's folder: `.venv/bin/...` is this virtualenv.
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSC_")}
    server = ServerProcess(
        env={**env, "WSC_DATA_DIR": str(tmp_path / "data"), "WSC_LOG_FORMAT": "json"},
        log_path=tmp_path / "server.log",
    )
    server.start(timeout=60)
    try:
        completed = subprocess.run(
            ["bash", "-e", "-u", "-o", "pipefail"],
            input=block.replace(DEFAULT_ADDRESS, f"127.0.0.1:{server.port}"),
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
    finally:
        server.stop()
    output = completed.stdout
    assert completed.returncode == 0, f"{completed.stderr}\n{output}"
    assert "Traceback" not in completed.stderr, completed.stderr

    lines = [line for line in output.splitlines() if line.strip()]
    assert lines[0] == "[]"  # nobody has a room yet
    events = [
        json.loads(line.removeprefix("event: ")) for line in lines if line.startswith("event:")
    ]
    types = [event["type"] for event in events]
    # `cat events.log` twice: after the connection, then after the listener's last frame.
    assert types[0] == "websocketConnected"
    assert types[1:] == ["websocketConnected", "ROOM_CREATED", "ROOM_MUTED"]

    bodies = [json.loads(line) for line in lines if line.startswith(("{", "["))]
    uploaded = next(b for b in bodies if isinstance(b, dict) and set(b) == {"id"})
    listing = next(b for b in bodies if isinstance(b, dict) and "attachments" in b)
    (attachment,) = listing["attachments"]
    assert attachment["id"] == uploaded["id"]
    assert (attachment["name"], attachment["mimeType"]) == ("notes.txt", "text/plain")
    assert attachment["size"] == len("first notes\n")
    assert {"zmToken"} == set(next(b for b in bodies if isinstance(b, dict) and "zmToken" in b))
    (room,) = bodies[-1]
    assert room["name"] == "Team" and room["type"] == "group"
    assert len(room["members"]) == 3
    assert events[2]["roomId"] == room["id"]
