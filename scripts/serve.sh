#!/usr/bin/env bash
# Installs wschats into .venv and serves it on the embedded defaults: a SQLite database and
# local files under ./data, in-process events, no XMPP server. Extra arguments go to
# `wschats serve` (e.g. --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet .
exec .venv/bin/wschats serve "$@"
