"""A private ejabberd: scripts/ejabberd.sh of the source tree with its own state directory and
free ports, so it can be started and stopped without disturbing any other instance."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from wschats.devtools.servers import free_port

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "ejabberd.sh"


@dataclass
class PrivateEjabberd:
    """`env` is added to the script's environment (e.g. the database `wschats xmpp-auth` reads)."""

    directory: Path
    env: dict[str, str] = field(default_factory=dict)
    http_port: int = field(default_factory=free_port)
    c2s_port: int = field(default_factory=free_port)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/api"

    def run(self, command: str, keep: bool = False) -> None:
        """`scripts/ejabberd.sh <command>`; a start begins from a fresh state unless `keep`."""
        env = {
            **os.environ,
            **self.env,
            "WSC_EJABBERD_DIR": str(self.directory),
            "WSC_EJABBERD_C2S_PORT": str(self.c2s_port),
            "WSC_EJABBERD_HTTP_PORT": str(self.http_port),
            "WSC_EJABBERD_FRESH": "0" if keep else "1",
        }
        done = subprocess.run(
            [str(SCRIPT), command], env=env, capture_output=True, text=True, timeout=900
        )
        if done.returncode != 0:
            raise RuntimeError(f"ejabberd {command}: {done.stdout}{done.stderr}")

    def start(self, keep: bool = False) -> None:
        self.run("start", keep)

    def stop(self) -> None:
        self.run("stop")
