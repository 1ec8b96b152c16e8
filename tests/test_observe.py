"""Events sampled from cumulative hazards; the approximate SLEDAI-2K."""

from __future__ import annotations

import numpy as np
import pytest

from lupusim.observe import (
    alive_matrix,
    approximate_sledai2k,
    first_crossing_times,
    sample_event_times,
)


def test_first_crossing_is_interpolated_and_inf_when_never() -> None:
    t = np.array([0.0, 10.0, 20.0])
    ch = np.array([[0.0, 1.0, 2.0], [0.0, 0.1, 0.2], [np.nan, 0.0, 1.0]])
    out = first_crossing_times(t, ch, np.array([1.5, 1.0, 0.5]))
    assert out[0] == pytest.approx(15.0)
    assert np.isinf(out[1])
    assert np.isnan(out[2])
    alive = alive_matrix(t, out)
    assert alive[0].tolist() == [1.0, 1.0, 0.0]
    assert alive[1].tolist() == [1.0, 1.0, 1.0]


def test_constant_hazard_gives_exponential_survival() -> None:
    rng = np.random.default_rng(3)
    t = np.linspace(0.0, 10.0, 201)
    rate = 0.2
    n = 4000
    ch = np.tile(rate * t, (n, 1))
    deaths = first_crossing_times(t, ch, rng.exponential(1.0, n))
    # P(T > 5) = exp(−1) = 0.368; binomial SD ≈ 0.0076
    assert np.mean(deaths > 5.0) == pytest.approx(np.exp(-1.0), abs=0.03)
    events = sample_event_times(t, ch[:500], rng)
    # a Poisson process of rate 0.2 over 10 time units: mean 2 events
    assert np.mean([len(e) for e in events]) == pytest.approx(2.0, abs=0.25)


def _obs(**over: float) -> dict[str, np.ndarray]:
    base = {
        "protein_24h_g": 0.1,
        "urine_rbc_per_hpf": 1.0,
        "urine_wbc_per_hpf": 1.0,
        "renal_activity": 0.0,
        "skin_activity": 0.0,
        "joint_activity": 0.0,
        "cns_activity": 0.0,
        "inflammation": 0.0,
        "anti_dsdna_iu_ml": 5.0,
        "platelets_1e9_l": 250.0,
        "wbc_1e9_l": 6.0,
        "c3_g_l": 1.2,
        "c4_g_l": 0.25,
    }
    base.update(over)
    return {k: np.array([v]) for k, v in base.items()}


def test_sledai_approximation_weights() -> None:
    assert approximate_sledai2k(_obs())[0] == 0
    # proteinuria 4 + low complement 2 + anti-dsDNA 2 = 8 (SPEC §1.2 weights)
    assert approximate_sledai2k(_obs(protein_24h_g=0.6, c3_g_l=0.8, anti_dsdna_iu_ml=100))[0] == 8
    # boundary: 0.5 g/24 h is not > 0.5
    assert approximate_sledai2k(_obs(protein_24h_g=0.5))[0] == 0
    worst = _obs(
        protein_24h_g=5,
        urine_rbc_per_hpf=30,
        urine_wbc_per_hpf=30,
        renal_activity=3,
        skin_activity=3,
        joint_activity=3,
        cns_activity=3,
        inflammation=3,
        anti_dsdna_iu_ml=300,
        platelets_1e9_l=20,
        wbc_1e9_l=1,
        c3_g_l=0.2,
    )
    score = approximate_sledai2k(worst)[0]
    assert 0 < score <= 105


def test_clinical_scoring_of_virtual_visits_equals_the_vectorised_score() -> None:
    """The hot-loop SLEDAI-2K equals lupusim.clinical on the virtual visit table."""
    from lupusim.engine import simulate
    from lupusim.model import get_preset
    from lupusim.observe import sledai2k, visit_table
    from lupusim.population import sample_parameters
    from lupusim.treatments import MSCInfusion, Prednisone, Regimen, nih_cyclophosphamide

    human = get_preset("human")
    p = sample_parameters(human, 12, np.random.default_rng(2))
    y0 = np.array([human.initial_state(r) for r in p])
    reg = Regimen(
        "x",
        (
            *nih_cyclophosphamide(400.0, 0.75, 6),
            Prednisone(400.0, 700.0, 30.0),
            MSCInfusion(600.0, cells_per_kg=1e6),
        ),
    )
    times = np.arange(0.0, 900.0, 10.0)
    obs = simulate(human.model, p, y0, [reg] * 12, times).observables()
    ids = [f"s{i}" for i in range(12)]
    clinical = sledai2k(obs, times, ids)
    assert np.array_equal(clinical, approximate_sledai2k(obs))
    assert clinical.max() >= 8 and clinical.min() == 0  # the check could fail both ways
    table = visit_table(obs, times, ids)
    assert {"subject_id", "visit", "study_day", "protein_24h_g", "c3_lln_g_l"} <= set(table)
