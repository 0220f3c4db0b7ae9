"""Benchmark: the XMPP side of wschats, both figures in one run.

(a) sign-ins per second through `wschats xmpp-auth` against ejabberd's internal passwords
    (bench/xmpp_signin.py, target >= 50 %);
(b) 1,000 room changes over 100 rooms, every system message delivered to a subscribed client
    in order per room, and the time until the last one arrives (bench/xmpp_rooms.py).

    .venv/bin/python -m bench.xmpp [--quick]

Each part starts and stops a private ejabberd of its own; they run one after the other so
that neither takes the other's CPU. The exit status is non-zero if either part failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(title: str, command: list[str]) -> int:
    print(f"== {title}: {' '.join(command)}", flush=True)
    return subprocess.run([sys.executable, *command], cwd=ROOT, check=False).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    quick = parser.parse_args().quick
    signin = ["-m", "bench.xmpp_signin"] + (["--signins", "100", "--rounds", "1"] if quick else [])
    rooms = ["-u", "bench/xmpp_rooms.py"] + (["--changes", "100", "--rooms", "10"] if quick else [])
    codes = [run("(a) sign-ins", signin), run("(b) room changes", rooms)]
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
