#!/usr/bin/env bash
# Installs wschats with its test dependencies into .venv and runs every check:
# ruff (lint + format), mypy (strict), and the whole pytest suite.
# Needs PostgreSQL on 127.0.0.1:5432 and RabbitMQ on 127.0.0.1:5672 (.ci/run starts them).
# The web client is built by the browser tests' fixture (scripts/build-web.sh) when needed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Programs some tests drive, from Debian's packages when missing (as root on Debian/Ubuntu):
# nginx (the shipped proxy site), Node.js and npm (the web client's build), Chromium (browser
# tests). ejabberd is installed by scripts/ejabberd.sh when its tests first start it.
missing=()
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing ${missing[*]} (Debian packages)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "missing ${missing[*]}: install them (Debian: apt-get install ${missing[*]})" >&2
        exit 1
    fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# The exact versions of requirements-test.lock (hash-checked), then wschats itself on top of
# them; refresh the lock with scripts/lock.sh after changing pyproject.toml.
.venv/bin/python -m pip install --quiet --require-hashes -r requirements-test.lock
.venv/bin/python -m pip install --quiet --no-deps -e .
if ! problems=$(.venv/bin/python -m pip check); then
    echo "$problems" >&2
    echo "requirements-test.lock misses what pyproject.toml asks for: run bash scripts/lock.sh" >&2
    exit 1
fi

echo "== ruff"
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
echo "== mypy"
.venv/bin/mypy
.venv/bin/mypy --explicit-package-bases tests bench
echo "== pytest"
.venv/bin/pytest -p no:cacheprovider "$@"
