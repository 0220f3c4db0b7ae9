"""Every pointer into docs/ names a section that exists, and nothing points outside the repository.

Code, tests, configuration and scripts cite `behaviour.md#create-room`, `DECISIONS.md#errors`,
`ejabberd.md#delivery` or `architecture.md#ports` (docs/architecture.md#docs); a pointer that
names no anchor would send a reader nowhere, so it fails here with its file and line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SCANNED = ("src", "tests", "deploy", "scripts", "bench")
TOP_LEVEL = ("README.md", "pyproject.toml")
SUFFIXES = {".py", ".sh", ".yml", ".yaml", ".md", ".toml", ".conf", ".service", ".example", ".ini"}

_POINTER = re.compile(r"\b(behaviour|DECISIONS|ejabberd|architecture)\.md#([A-Za-z0-9-]+)")
# `behaviour.md#update-room, #delete-room`: further anchors of the same file on that line.
_MORE = re.compile(r"(?:^|[\s(,/])#([a-z][a-z0-9-]*)\b")
_ANCHOR = re.compile(r'<a id="([^"]+)"></a>')
# What used to stand for documents outside the repository.
_OUTSIDE = re.compile(r"original-behaviour|/work/shared|\.\./shared|\bD[1-9]\b|§")


def scanned_files() -> list[Path]:
    files = [ROOT / name for name in TOP_LEVEL]
    for folder in SCANNED:
        files += [
            p
            for p in (ROOT / folder).rglob("*")
            if p.is_file() and (p.suffix in SUFFIXES or p.name.endswith(".sh"))
        ]
    return [p for p in files if p != Path(__file__).resolve() and "__pycache__" not in p.parts]


def anchors(document: str) -> set[str]:
    return set(_ANCHOR.findall((DOCS / f"{document}.md").read_text(encoding="utf-8")))


def test_every_docs_pointer_names_an_existing_anchor() -> None:
    known = {doc: anchors(doc) for doc in ("behaviour", "DECISIONS", "ejabberd", "architecture")}
    broken = []
    seen = 0
    for path in scanned_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in _POINTER.finditer(line):
                doc = match[1]
                names = [match[2], *_MORE.findall(line[match.end() :].split(".md#")[0])]
                for name in names:
                    seen += 1
                    if name not in known[doc]:
                        broken.append(f"{path.relative_to(ROOT)}:{number}: {doc}.md#{name}")
    assert seen > 100, "the scan found almost no pointers: is the pattern still right?"
    assert not broken, "pointers to sections that do not exist:\n" + "\n".join(broken)


def test_nothing_points_at_documents_outside_the_repository() -> None:
    outside = []
    for path in scanned_files():
        relative = str(path.relative_to(ROOT))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _OUTSIDE.search(line):
                outside.append(f"{relative}:{number}: {line.strip()}")
    assert not outside, "pointers outside the repository:\n" + "\n".join(outside)


@pytest.mark.parametrize("document", ["behaviour", "DECISIONS", "ejabberd", "architecture"])
def test_docs_cite_their_own_anchors_correctly(document: str) -> None:
    """Links between the documents (`[x](DECISIONS.md#rooms)`, `[x](#create-room)`) resolve."""
    text = (DOCS / f"{document}.md").read_text(encoding="utf-8")
    broken = []
    for target, name in re.findall(r"\]\(([A-Za-z]*)(?:\.md)?#([a-z0-9-]+)\)", text):
        if name not in anchors(target or document):
            broken.append(f"{target or document}#{name}")
    assert not broken, f"docs/{document}.md links to missing anchors: {broken}"
