"""Who may import whom among the top-level folders (architecture.md#tests-and-benchmarks):
bench/ never imports tests/, tests/ never imports bench/, and the server imports neither, nor
the tools in `wschats.devtools` that both share. Read from the source with `ast`, so a file
that is never run is checked too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEVTOOLS = ROOT / "src" / "wschats" / "devtools"


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in `path`."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def offending(folder: Path, forbidden: tuple[str, ...], skip: Path | None = None) -> list[str]:
    lines = []
    for path in sorted(folder.rglob("*.py")):
        if skip is not None and path.is_relative_to(skip):
            continue
        for line, module in imported_modules(path):
            if any(module == name or module.startswith(name + ".") for name in forbidden):
                shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                lines.append(f"{shown}:{line}: imports {module}")
    return lines


@pytest.mark.parametrize(
    ("folder", "forbidden", "skip"),
    [
        ("bench", ("tests",), None),
        ("tests", ("bench",), None),
        ("src/wschats", ("tests", "bench", "wschats.devtools"), DEVTOOLS),
        ("src/wschats/devtools", ("tests", "bench"), None),
    ],
)
def test_folders_import_only_what_they_may(
    folder: str, forbidden: tuple[str, ...], skip: Path | None
) -> None:
    assert offending(ROOT / folder, forbidden, skip) == []


def test_the_check_finds_an_import_of_tests(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(
        "import os\nfrom tests.servers import ServerProcess\nimport tests.populate as p\n"
    )
    assert [line for line, _ in imported_modules(tmp_path / "script.py")] == [1, 2, 3]
    found = offending(tmp_path, ("tests",))
    assert len(found) == 2
