"""The command line: one-line errors and non-zero exits for bad arguments."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lupusim.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_unknown_study_is_a_one_line_error(tmp_path: Path) -> None:
    res = _run("reproduce", "nobody2020", "--out", str(tmp_path / "o"))
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "lupusim: error: unknown study 'nobody2020'; known: sun2009"
    ]
    assert not (tmp_path / "o").exists()


def test_bad_option_value_is_a_one_line_error(tmp_path: Path) -> None:
    res = _run("reproduce", "sun2009", "--out", str(tmp_path / "o"), "--per-group", "0")
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lupusim: error:") and "per-group" in lines[0]


def test_missing_out_is_an_error() -> None:
    res = _run("reproduce", "sun2009")
    assert res.returncode == 2
    assert "--out" in res.stderr


def test_version() -> None:
    res = _run("version")
    assert res.returncode == 0 and res.stdout.strip()
