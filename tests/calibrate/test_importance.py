"""The importance-sampling diagnostic of a Laplace posterior
(lupusim.calibrate._importance), on distributions and problems whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import genpareto

from lupusim.calibrate._importance import (
    PARETO_K_GOOD,
    generalized_pareto_shape,
    importance_check,
    pareto_k,
)
from lupusim.calibrate._laplace import laplace_posterior

from .conftest import linear_problem


@pytest.mark.parametrize("shape", [0.1, 0.5, 0.9])
def test_pareto_shape_is_recovered(shape: float) -> None:
    rng = np.random.default_rng(7)
    estimates = [
        generalized_pareto_shape(genpareto.rvs(shape, size=200, random_state=rng))
        for _ in range(40)
    ]
    # 40 fits of 200 exceedances: SE of the mean about 0.015; the weak prior toward 0.5
    # and the small-sample bias stay inside 0.06
    assert np.mean(estimates) == pytest.approx(shape, abs=0.06)


def test_k_hat_tells_a_too_narrow_proposal() -> None:
    """Gaussian proposal sd 1, Gaussian target sd σ: the ratios' tail has shape
    k = 1 − 1/σ² (0 for σ = 1, 0.17 for σ = 1.1, 0.75 for σ = 2). Averaged over 20
    samples of 2,000 draws (k̂ varies by about ±0.15 between samples)."""

    def mean_k(sigma: float) -> float:
        ks = []
        for seed in range(20):
            x = np.random.default_rng(seed).normal(size=2000)
            ks.append(pareto_k(-0.5 * x**2 / sigma**2 + 0.5 * x**2))
        return float(np.mean(ks))

    assert mean_k(1.1) < PARETO_K_GOOD
    assert mean_k(2.0) == pytest.approx(0.75, abs=0.12)
    # equal ratios: no tail at all
    assert pareto_k(np.random.default_rng(0).normal(0, 1e-9, size=2000)) < PARETO_K_GOOD


def test_a_linear_problem_passes_and_an_unpinned_parameter_is_widened() -> None:
    rng = np.random.default_rng(11)
    # p0 is pinned by 10 targets; p1 touches none of them (structurally free), in a box
    # of ±2 in log: the Laplace Gaussian stands in for the flat box with sd 4/√12, so it
    # is narrower than the exact (flat) posterior of p1
    design = np.column_stack([rng.normal(size=10), np.zeros(10)])
    data = design @ np.array([0.4, 0.0]) + rng.normal(0, 0.2, size=10)
    x_hat = np.linalg.lstsq(design[:, :1], data, rcond=None)[0][0]
    problem = linear_problem(design, data, 0.2, ("p0", "p1"), log_box=2.0)
    post = laplace_posterior(problem, {"p0": math.exp(x_hat), "p1": 1.0})
    check = importance_check(problem, post, 400, np.random.default_rng(5))
    assert check.n == 400
    reweighted = check.reweighted_interval90()
    lo, hi = post.interval(0.9)
    # p0: the Laplace interval is right (linear-Gaussian likelihood) — reweighting keeps it
    assert math.log(reweighted["p0"][0]) == pytest.approx(math.log(lo[0]), abs=0.05)
    assert math.log(reweighted["p0"][1]) == pytest.approx(math.log(hi[0]), abs=0.05)
    # p1: flat on [−2, 2] (the exact 90 % interval is ±1.8); the Gaussian puts mass
    # outside the box and is flat nowhere — reweighting recovers the flat quantiles
    assert math.log(reweighted["p1"][0]) == pytest.approx(-1.8, abs=0.12)
    assert math.log(reweighted["p1"][1]) == pytest.approx(1.8, abs=0.12)
    assert check.outside_box > 0
    assert 0 < check.effective_sample_size < 400
    payload = check.to_json()
    assert payload["draws_evaluated"] + payload["draws_outside_box"] == 400
