"""What the fuzzing sent, summed over a test run and printed at its end
(tests/security/conftest.py), so a run says how many cases it tried and what they got."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest


@dataclass
class FuzzReport:
    statuses: dict[str, Counter[int]] = field(default_factory=dict)

    def add(self, suite: str, status: int) -> None:
        self.statuses.setdefault(suite, Counter())[status] += 1

    def lines(self) -> list[str]:
        total = sum(sum(counts.values()) for counts in self.statuses.values())
        lines = [f"{total} cases sent"]
        for suite, counts in self.statuses.items():
            mix = ", ".join(f"{status}: {count}" for status, count in sorted(counts.items()))
            lines.append(f"{suite}: {sum(counts.values())} cases ({mix})")
        return lines


FUZZ_REPORT = pytest.StashKey[FuzzReport]()


def fuzz_report(config: pytest.Config) -> FuzzReport:
    return config.stash.setdefault(FUZZ_REPORT, FuzzReport())
