"""Shared fixtures: numba cache in a temporary folder per session; the fuzz case count."""

from __future__ import annotations

import os
import sys
import tempfile

import pytest

os.environ.setdefault(
    "LUPUSIM_CACHE_DIR", os.path.join(tempfile.gettempdir(), "lupusim-test-cache")
)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    """Report how many cases the fuzz tests generated (tests/fuzz, issue 13)."""
    support = sys.modules.get("fuzz._support")
    cases = getattr(support, "CASES", None)
    if not cases:
        return
    terminalreporter.write_sep("-", "fuzz cases generated")
    for target, n in sorted(cases.items()):
        terminalreporter.write_line(f"{n:6d}  {target}")
    terminalreporter.write_line(f"{sum(cases.values()):6d}  in all")
