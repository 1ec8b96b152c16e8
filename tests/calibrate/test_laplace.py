"""The Laplace posterior and identifiability labels (lupusim.calibrate._laplace), on
synthetic problems with known parameters, and ``lupusim calibrate posterior --quick``."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lupusim.calibrate import CalibrationProblem, FreeParameter, Residual
from lupusim.calibrate._laplace import laplace_posterior

from .conftest import linear_problem

NAMES = ("a", "b", "c")


def _linear_problem(design: np.ndarray, data: np.ndarray, sigma: float) -> CalibrationProblem:
    return linear_problem(design, data, sigma, NAMES)


def test_90_percent_intervals_cover_the_true_parameters_about_90_percent() -> None:
    rng = np.random.default_rng(20261207)
    design = rng.normal(size=(12, 3))
    truth = np.array([0.3, -1.2, 2.0])
    sigma = 0.4
    covered = []
    for _ in range(300):
        data = design @ truth + rng.normal(0, sigma, size=12)
        x_hat = np.linalg.lstsq(design, data, rcond=None)[0]
        post = laplace_posterior(
            _linear_problem(design, data, sigma),
            dict(zip(NAMES, np.exp(x_hat), strict=True)),
        )
        lo, hi = post.interval(0.9)
        covered.append((lo <= np.exp(truth)) & (np.exp(truth) <= hi))
    coverage = float(np.mean(covered))
    # 900 intervals: the binomial SE at 0.9 is 0.01; the misfit floor s² ≥ 1 makes the
    # intervals slightly conservative (0.917 with this seed)
    assert 0.87 <= coverage <= 0.93, coverage


def test_exact_posterior_of_a_linear_problem() -> None:
    rng = np.random.default_rng(3)
    design = rng.normal(size=(8, 3))
    data = design @ np.array([0.5, 0.1, -0.4])
    x_hat = np.linalg.lstsq(design, data, rcond=None)[0]
    post = laplace_posterior(
        _linear_problem(design, data, 0.2), dict(zip(NAMES, np.exp(x_hat), strict=True))
    )
    prior_precision = np.diag(1.0 / post.prior_sd**2)
    expected = np.linalg.inv(design.T @ design / 0.2**2 + prior_precision)
    np.testing.assert_allclose(post.covariance, expected, rtol=1e-5)
    assert set(post.labels().values()) == {"identifiable"}


def test_labels_tell_structural_from_practical_non_identifiability() -> None:
    # a and b enter only as their product (log a + log b); c moves no target at all.
    design = np.array([[1.0, 1.0, 0.0], [2.0, 2.0, 0.0], [-1.0, -1.0, 0.0]])
    data = np.array([0.2, 0.4, -0.2])
    post = laplace_posterior(_linear_problem(design, data, 0.1), {"a": 1.1, "b": 1.1, "c": 1.0})
    labels = post.labels()
    assert labels["c"] == "structurally non-identifiable"
    assert post.width_ratio[2] == pytest.approx(1.0)
    assert labels["a"] == labels["b"] == "practically non-identifiable"
    # the product itself is pinned down: var(log a + log b) is far below the prior's
    var_sum = post.covariance[0, 0] + post.covariance[1, 1] + 2 * post.covariance[0, 1]
    assert math.sqrt(var_sum) < 0.05 * post.prior_sd[0]


def test_draws_stay_inside_the_bounds_and_centre_on_the_mode() -> None:
    free = (FreeParameter("a", 1.0, 0.5, 2.0),)

    def residuals(values: dict[str, float]) -> list[Residual]:
        return [Residual("T", "synthetic", math.log(values["a"]), 0.0, 0.3)]

    post = laplace_posterior(CalibrationProblem("p", "none", free, residuals), {"a": 1.0})
    draws = post.draws(4000, np.random.default_rng(0))
    assert draws.shape == (4000, 1)
    assert (draws >= 0.5 - 1e-12).all() and (draws <= 2.0 + 1e-12).all()
    assert float(np.median(np.log(draws))) == pytest.approx(0.0, abs=0.02)
    # truncated, not clipped: no draw sits on a bound
    assert not np.isclose(draws, 0.5).any() and not np.isclose(draws, 2.0).any()
    with pytest.raises(ValueError, match="outside the fit's bounds"):
        laplace_posterior(CalibrationProblem("p", "none", free, residuals), {"a": 3.0})
    with pytest.raises(KeyError, match="no value for free parameters"):
        laplace_posterior(CalibrationProblem("p", "none", free, residuals), {})


def test_quick_posterior_writes_labels_ensemble_and_figure(tmp_path: Path) -> None:
    from lupusim.calibrate._spec import human_spec

    out = tmp_path / "post"
    args = ["calibrate", "posterior", "--quick", "--out", str(out), "--draws", "5", "--check", "2"]
    res = subprocess.run(
        [sys.executable, "-m", "lupusim.cli", *args, "--no-progress"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stderr
    payload = json.loads((out / "posterior_human.json").read_text())
    spec = human_spec()
    names = [f.name for f in spec.free]
    assert [p["name"] for p in payload["parameters"]] == names
    assert len(payload["draws"]) == 5
    for p in payload["parameters"]:
        assert 0 < p["width_ratio"] <= 1.0 + 1e-9
        lo, hi = p["bounds"]
        assert lo <= p["interval90"][0] <= p["value"] <= p["interval90"][1] <= hi
        assert p["identifiability"] in {
            "identifiable",
            "practically non-identifiable",
            "structurally non-identifiable",
        }
    for draw in payload["draws"]:
        for f in spec.free:
            assert f.lower * (1 - 1e-9) <= draw[f.name] <= f.upper * (1 + 1e-9)
    assert (out / "identifiability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "parameters" in res.stdout
    check = payload["check"]  # the importance check ran at 2 draws
    assert check["draws_evaluated"] + check["draws_outside_box"] == 2
    assert len(check["log_ratios"]) == 2
    assert "importance check at 2 draws" in res.stdout


def test_a_model_that_misses_its_targets_gets_wider_intervals() -> None:
    """Residuals larger than the spreads (Σ r² / (n − p) = s² > 1) widen the likelihood
    by s²; within the spreads (s² ≤ 1) nothing changes."""
    rng = np.random.default_rng(5)
    design = rng.normal(size=(10, 3))
    truth = np.array([0.2, 0.0, -0.3])
    sigma = 0.1
    data = design @ truth + rng.normal(0, 5 * sigma, size=10)  # five times the claimed noise
    x_hat = np.linalg.lstsq(design, data, rcond=None)[0]
    post = laplace_posterior(
        _linear_problem(design, data, sigma), dict(zip(NAMES, np.exp(x_hat), strict=True))
    )
    s2 = float(np.sum(((design @ x_hat - data) / sigma) ** 2)) / (10 - 3)
    assert s2 > 4
    assert post.misfit_factor == pytest.approx(s2, rel=1e-6)
    prior_precision = np.diag(1.0 / post.prior_sd**2)
    expected = np.linalg.inv(design.T @ design / sigma**2 / s2 + prior_precision)
    np.testing.assert_allclose(post.covariance, expected, rtol=1e-5)
