"""The fuzzing's summary at the end of the run: cases sent and the status mix, per suite."""

from __future__ import annotations

import pytest

from tests.security.fuzz_report import FUZZ_REPORT


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    report = config.stash.get(FUZZ_REPORT, None)
    if report is None or not report.statuses:
        return
    terminalreporter.write_sep("-", "fuzzing")
    for line in report.lines():
        terminalreporter.write_line(line)
