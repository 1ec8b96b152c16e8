"""The held-out prediction script (scripts/heldout_predictions.py) stays runnable: every
outcome it reports names a shipped protocol, an arm of it and a measure the calibration
code accepts, and none of them is a calibration target."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import yaml

from lupusim.trial import TrialOptions, run_trial
from lupusim.trial._protocol import load_protocol

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "heldout_predictions.py"
HUMAN_SPEC = ROOT / "src" / "lupusim" / "calibrate" / "data" / "human.yaml"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("heldout_predictions", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_outcome_names_a_shipped_arm_and_a_valid_measure() -> None:
    script = _script()
    adapter = script.MEASURE
    assert script.OUTCOMES
    for outcome in script.OUTCOMES:
        protocol = load_protocol(script.EXAMPLES / f"{outcome.protocol}.yaml")
        assert outcome.arm in {a.name for a in protocol.arms}, outcome
        measure = adapter.validate_python(outcome.measure)
        assert measure.kind == outcome.measure["kind"]
        assert 0.0 <= outcome.published <= 1.0 and outcome.source


def test_no_heldout_protocol_is_a_calibration_protocol() -> None:
    script = _script()
    spec = yaml.safe_load(HUMAN_SPEC.read_text())
    fitted = {t["protocol"] for t in spec["targets"]}
    assert not fitted & {o.protocol for o in script.OUTCOMES}


def test_the_euro_lupus_design_runs(tmp_path: Path) -> None:
    """examples/trials/elnt.yaml is shipped only for the predictions; it must run."""
    protocol = load_protocol(ROOT / "examples" / "trials" / "elnt.yaml")
    options = TrialOptions(
        n_subjects=4, chunk_size=4, n_trials=3, progress=False, write_report=False
    )
    summary = run_trial(protocol, tmp_path, options)
    assert set(summary["arms"]) == {"low_dose", "high_dose"}
    assert all(block["n"] == 4 for block in summary["arms"].values())
