"""The sampling/analysis wrapper on the Ishigami function (analytic indices known).

Ishigami (a = 7, b = 0.1) on [-π, π]³: f = sin x1 + a sin² x2 + b x3⁴ sin x1. Analytic
Sobol' indices (Ishigami & Homma 1990; Saltelli et al. 2008, Global Sensitivity
Analysis: The Primer): S1 = (0.3139, 0.4424, 0), ST = (0.5576, 0.4424, 0.2437).

Morris on a 4-level grid (Δ = 2/3 of the range): the levels are -π, -π/3, π/3, π and a
step moves -π ↔ π/3 or -π/3 ↔ π, so the absolute elementary effects are exact:
x2: a · 0.75 / Δ = 7.875 for every step; x1: (√3/2)(1 + b x3⁴) / Δ, whose mean over x3
on the grid is 1.299 · (1 + b (π⁴ + (π/3)⁴) / 2) = 7.704; x3: b |sin x1| (π⁴ − (π/3)⁴) / Δ,
mean 0.1 · 0.433 · 96.21 / (2/3) = 6.249. So mu*: x2 ≈ x1 > x3 (x3 is not zero: it acts
only through its interaction with x1, ST3 > 0 = S1_3).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pytest

from lupusim.errors import LupusimError
from lupusim.sensitivity import Factor, morris_screen, sobol_indices

A, B = 7.0, 0.1
S1 = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
ST = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}
DELTA = 2 / 3
MU_STAR = {
    "x2": A * 0.75 / DELTA,
    "x1": math.sqrt(3) / 2 / DELTA * (1 + B * (math.pi**4 + (math.pi / 3) ** 4) / 2),
    "x3": B * (math.sqrt(3) / 4) * (math.pi**4 - (math.pi / 3) ** 4) / DELTA,
}
FACTORS = [Factor(f"x{i}", -math.pi, math.pi, log=False) for i in (1, 2, 3)]


def ishigami(v: Mapping[str, float]) -> float:
    return math.sin(v["x1"]) + A * math.sin(v["x2"]) ** 2 + B * v["x3"] ** 4 * math.sin(v["x1"])


def test_analytic_morris_values() -> None:
    assert MU_STAR["x2"] == pytest.approx(7.875)
    assert MU_STAR["x1"] == pytest.approx(7.704, abs=1e-3)
    assert MU_STAR["x3"] == pytest.approx(6.249, abs=1e-3)


def test_sobol_ishigami_matches_the_analytic_indices() -> None:
    res = sobol_indices(FACTORS, ishigami, samples=4096, seed=11)
    assert res.evaluations == 4096 * 5 and res.samples_used == 4096
    t = res.table.set_index("name")
    for name in ("x1", "x2", "x3"):
        assert t.loc[name, "S1"] == pytest.approx(S1[name], abs=0.02)
        assert t.loc[name, "ST"] == pytest.approx(ST[name], abs=0.02)
        # the bootstrap 95 % CIs cover the analytic values
        assert abs(t.loc[name, "S1"] - S1[name]) <= t.loc[name, "S1_conf95"]
        assert abs(t.loc[name, "ST"] - ST[name]) <= t.loc[name, "ST_conf95"]
    assert t.loc["x3", "ST"] > 0.2  # interaction only


def test_morris_ishigami_ranks_and_values() -> None:
    res = morris_screen(FACTORS, ishigami, trajectories=4000, seed=1)
    assert res.evaluations == 4000 * 4
    t = res.table.set_index("name")
    assert t.loc["x2", "mu_star"] == pytest.approx(MU_STAR["x2"], rel=1e-9)
    assert t.loc["x2", "mu_star_conf95"] == pytest.approx(0.0, abs=1e-9)
    # x1's and x3's effects vary with the other factors' levels: their mu* are sample
    # means (standard error ~0.1 from 4000 trajectories), within their bootstrap CIs
    for name in ("x1", "x3"):
        assert t.loc[name, "mu_star"] == pytest.approx(MU_STAR[name], abs=0.5)
        assert abs(t.loc[name, "mu_star"] - MU_STAR[name]) <= 2 * t.loc[name, "mu_star_conf95"]
    assert t.loc["x3", "mu_star"] > 0  # interaction through x1
    assert res.ranked()[-1] == "x3"
    assert list(t["morris_rank"].sort_values().index)[-1] == "x3"
    assert t.loc["x3", "sigma"] > t.loc["x3", "mu_star"]  # a pure interaction effect


def test_morris_groups_and_failed_evaluations_drop_whole_trajectories() -> None:
    calls = {"n": 0}

    def flaky(v: Mapping[str, float]) -> float:
        calls["n"] += 1
        return math.nan if calls["n"] == 3 else ishigami(v)

    res = morris_screen(FACTORS, flaky, trajectories=10, seed=1)
    assert res.trajectories_used == 9 and res.evaluations == 40
    grouped = [
        Factor("x1", -math.pi, math.pi, log=False, group="g1"),
        Factor("x2", -math.pi, math.pi, log=False, group="g2"),
        Factor("x3", -math.pi, math.pi, log=False, group="g1"),
    ]
    res = morris_screen(grouped, ishigami, trajectories=20, seed=1, grouped=True)
    assert res.evaluations == 20 * 3
    assert set(res.ranked()) == {"g1", "g2"}


def test_log_factors_are_sampled_by_multiples() -> None:
    f = Factor("k", 0.5, 2.0)
    seen: list[float] = []

    def record(v: Mapping[str, float]) -> float:
        seen.append(v["k"])
        return math.log(v["k"])

    res = morris_screen([f, Factor("j", 1.0, 4.0)], record, trajectories=4, seed=3)
    levels = np.exp(np.linspace(math.log(0.5), math.log(2.0), 4))
    assert all(np.isclose(levels, s).any() for s in seen)
    # log k is linear in the sampled coordinate: every elementary effect is log(4)
    assert res.table.set_index("name").loc["k", "mu_star"] == pytest.approx(math.log(4.0))


def test_bad_sizes_are_errors() -> None:
    with pytest.raises(LupusimError, match="power of 2"):
        sobol_indices(FACTORS, ishigami, samples=100, seed=1)
    with pytest.raises(LupusimError, match="at least 2"):
        morris_screen(FACTORS, ishigami, trajectories=1, seed=1)
