"""Shared by the fuzz tests: run the ``lupusim`` command in-process, check its failures,
and count the generated cases (reported at the end of the test run, tests/conftest.py)."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections import Counter
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from lupusim.cli import main
from lupusim.safe_csv import is_formula

#: Generated cases per fuzz target, printed by ``pytest_terminal_summary``.
CASES: Counter[str] = Counter()

#: Few examples, no deadline: the whole fuzz suite stays well under a minute on 2 cores.
#: The cases are derandomised (the same ones every run, so CI passes or fails on the code,
#: not on the draw); ``LUPUSIM_FUZZ_RANDOM=1`` explores fresh cases and
#: ``LUPUSIM_FUZZ_EXAMPLES=N`` sets their number, to hunt before a release.
FUZZ = settings(
    max_examples=int(os.environ.get("LUPUSIM_FUZZ_EXAMPLES", "100")),
    derandomize=not os.environ.get("LUPUSIM_FUZZ_RANDOM"),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Cell texts that must never crash a reader: non-finite numbers, overflow, wrong types,
#: formulas, whitespace, other scripts.
NASTY_TEXT: tuple[str, ...] = (
    "inf",
    "-inf",
    "Infinity",
    "nan",
    "NaN",
    "NA",
    "1e400",
    "-1e400",
    "1e308",
    "-1e308",
    "1e-400",
    "-0.5",
    "0",
    "abc",
    "true",
    "0x1A",
    "1,5",
    "１２",
    '=HYPERLINK("x")',
    "+cmd|' /C calc'!A0",
    "@SUM(A1)",
    "\t-1",
    " ",
    "",
    "2024-13-45",
    "9" * 400,
    "\u202e1",
)
nasty_cell = st.one_of(
    st.sampled_from(NASTY_TEXT),
    st.text(max_size=12),
    st.floats().map(repr),
    st.integers(-(10**20), 10**20).map(str),
)
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252")


def record(target: str) -> None:
    """Count one generated case of ``target``."""
    CASES[target] += 1


def run_cli(*args: str) -> tuple[int, str, str]:
    """``lupusim ARGS`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with (
        mock.patch.object(sys, "argv", ["lupusim", *args]),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def leftovers(out: Path) -> list[Path]:
    """Temporary output folders left beside ``out`` (there must be none)."""
    return sorted(out.parent.glob(f".{out.name}.tmp-*"))


def assert_clean_outcome(code: int, stderr: str, out: Path) -> None:
    """Success with every output, or a one-line error and no output folder at all."""
    assert "Traceback" not in stderr, stderr
    assert not leftovers(out), leftovers(out)
    if code == 0:
        assert out.is_dir()
        return
    assert code == 2, (code, stderr)
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("lupusim: error: "), stderr
    assert not out.exists(), f"partial output folder after: {lines[0]}"


def assert_escaped_csv(path: Path) -> None:
    """No text cell of a written CSV starts like a spreadsheet formula."""
    import pandas as pd

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col in frame.columns:
        assert not is_formula(col), col
        bad = [cell for cell in frame[col] if is_formula(cell)]
        assert not bad, (path.name, col, bad[:3])
