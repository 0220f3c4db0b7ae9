#!/usr/bin/env bash
# Regenerates the lock files from pyproject.toml: requirements.lock (what `wschats` needs to
# run) and requirements-test.lock (that plus the `test` extra), exact versions with their
# hashes, for Python 3.11 on any platform. Run it after changing a dependency in
# pyproject.toml and commit the result; tests/ops/test_lock.py fails while they disagree.
# uv comes from PyPI into a throw-away virtualenv when it is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."

UV=$(command -v uv || true)
if [ -z "$UV" ]; then
    tools=$(mktemp -d)
    trap 'rm -rf "$tools"' EXIT
    python3 -m venv "$tools"
    "$tools/bin/pip" install --quiet uv
    UV="$tools/bin/uv"
fi

compile() {
    "$UV" pip compile pyproject.toml --quiet --python-version 3.11 --universal \
        --generate-hashes --custom-compile-command "bash scripts/lock.sh" "$@"
}
compile --output-file requirements.lock
compile --extra test --output-file requirements-test.lock
echo "requirements.lock and requirements-test.lock regenerated"
