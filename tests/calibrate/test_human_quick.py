"""``lupusim calibrate human --quick`` end to end: the fit runs and writes its outputs."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd

from lupusim.calibrate._spec import human_spec


def test_quick_calibration_writes_values_gof_table_and_figure(tmp_path: Path) -> None:
    out = tmp_path / "cal"
    args = ["calibrate", "human", "--quick", "--out", str(out), "--evaluations", "2"]
    res = subprocess.run(
        [sys.executable, "-m", "lupusim.cli", *args, "--no-progress"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    spec = human_spec()
    payload = json.loads((out / "calibration_human.json").read_text())
    assert set(payload["values"]) == {f.name for f in spec.free}
    for f in spec.free:
        assert f.lower <= payload["values"][f.name] <= f.upper
    assert payload["targets"] == [t.row for t in spec.targets if t.fit]
    assert payload["evaluations"] <= 2 + 1  # the budget, plus the starting point
    gof = pd.read_csv(out / "gof.csv")
    assert sorted(gof["row"]) == sorted(t.row for t in spec.targets)
    assert gof["simulated"].map(math.isfinite).all()
    assert (
        (gof["interval_low"] <= gof["published"]) & (gof["published"] <= gof["interval_high"])
    ).all()
    assert (out / "gof.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "target rows within their published interval" in res.stdout
    assert f"{payload['evaluations']} of 2 objective evaluations" in res.stdout
