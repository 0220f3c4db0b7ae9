"""The lock files pin every dependency pyproject.toml declares, so the README's commands install
the same versions everywhere; scripts/lock.sh regenerates them (docs/dependencies.md)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_PINNED = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)
_NAME = re.compile(r"^\s*([A-Za-z0-9_.-]+)")


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: str) -> dict[str, str]:
    text = (ROOT / lock).read_text(encoding="utf-8")
    return {normalised(name): version for name, version in _PINNED.findall(text)}


def declared(extra: str | None) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = project["dependencies"] + (
        project["optional-dependencies"][extra] if extra else []
    )
    names = set()
    for requirement in requirements:
        match = _NAME.match(requirement)
        assert match, requirement
        names.add(normalised(match[1]))
    return names


@pytest.mark.parametrize(
    ("lock", "extra"), [("requirements.lock", None), ("requirements-test.lock", "test")]
)
def test_the_lock_pins_every_declared_dependency(lock: str, extra: str | None) -> None:
    pinned = pins(lock)
    missing = declared(extra) - set(pinned)
    assert not missing, f"{lock} lacks {sorted(missing)}: run `bash scripts/lock.sh`"


def test_every_pin_carries_a_hash() -> None:
    for lock in ("requirements.lock", "requirements-test.lock"):
        entries = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text(encoding="utf-8"))
        unhashed = [e.split()[0] for e in entries if "==" in e and "--hash=sha256:" not in e]
        assert not unhashed, f"{lock}: pins without a hash: {unhashed}"


def test_the_runtime_lock_agrees_with_the_test_lock() -> None:
    runtime, test = pins("requirements.lock"), pins("requirements-test.lock")
    differ = {n: (v, test[n]) for n, v in runtime.items() if n in test and test[n] != v}
    assert not differ, f"the two locks pin different versions: {differ}"
