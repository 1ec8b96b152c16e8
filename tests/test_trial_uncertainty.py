"""``lupusim trial run --uncertainty K``: the protocol under posterior parameter sets."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lupusim.errors import LupusimError
from lupusim.model import (
    MODEL_INTERVAL,
    PosteriorEnsemble,
    centred,
    get_preset,
    load_ensemble,
    model_interval,
)
from lupusim.model._presets import installed_human_posterior
from lupusim.trial import TrialOptions, load_protocol, run_trial
from lupusim.trial._uncertainty import assurance, draw_subjects, summarise

EXAMPLES = Path(__file__).parents[1] / "examples" / "trials"


def _posterior_file(path: Path, draws: list[dict[str, float]]) -> Path:
    """A posterior file with the installed mode and the given parameter sets."""
    installed = installed_human_posterior()
    assert installed is not None
    payload = {**installed, "draws": draws}
    path.write_text(json.dumps(payload))
    return path


def _mode() -> dict[str, float]:
    installed = installed_human_posterior()
    assert installed is not None
    return {p["name"]: float(p["value"]) for p in installed["parameters"]}


def test_model_interval_is_the_central_share_of_the_draws() -> None:
    values = list(np.arange(1.0, 102.0))  # 1..101
    out = model_interval([*values, None, math.nan])
    assert out["n_draws"] == 101
    assert out["median"] == pytest.approx(51.0)
    tail = (1 - MODEL_INTERVAL) / 2
    assert out["interval90"] == pytest.approx([1 + 100 * tail, 101 - 100 * tail])
    assert model_interval([None])["interval90"] == [None, None]


def test_assurance_averages_power_over_draws() -> None:
    out = assurance([0.2, 0.4, 0.9], n_trials=1000)
    assert out["estimate"] == pytest.approx(0.5)
    between = np.var([0.2, 0.4, 0.9], ddof=1) / 3
    within = np.mean([0.2 * 0.8, 0.4 * 0.6, 0.9 * 0.1]) / 1000 / 3
    assert out["se"] == pytest.approx(math.sqrt(between + within))


def test_draws_are_centred_on_the_fit() -> None:
    # additive: fit + (draw - reference), clipped to the bounds
    assert centred(0.5, 0.4, [0.3, 0.5, None]) == pytest.approx([0.4, 0.6, None])
    assert centred(0.9, 0.5, [0.8], bounds=(0.0, 1.0)) == [1.0]
    # ratios on the log scale
    assert centred(2.0, 1.0, [0.5, 4.0], ratio=True) == pytest.approx([1.0, 8.0])
    # no reference: the raw draws
    assert centred(0.5, None, [0.3]) == [0.3]


def _record(x: float) -> dict[str, Any]:
    return {
        "arms": {"a": {"ep": x}},
        "comparisons": [{"endpoint": "ep", "arms": ["a", "b"], "difference": x - 0.4}],
        "power": {"ep": [{"arms": ["a", "b"], "power": x}]},
        "power_curve": [{"total": 40, "endpoints": {"ep": [{"arms": ["a", "b"], "power": x / 2}]}}],
    }


def test_summary_pairs_each_number_with_its_draws() -> None:
    main = {
        "endpoints": {"ep": {"kind": "binary"}},
        "arms": {"a": {"ep": {"estimate": 0.5, "ci95": [0.4, 0.6]}, "n": 10}},
        "comparisons": [
            {
                "endpoint": "ep",
                "arms": ["a", "b"],
                "measure": "risk_difference",
                "difference": 0.1,
                "ci95": [0, 0.2],
            }
        ],
        "power": {
            "n_trials": 100,
            "endpoints": {"ep": [{"arms": ["a", "b"], "power": 0.7, "ci95": [0.6, 0.8]}]},
            "curve": [{"total": 40, "endpoints": {"ep": [{"arms": ["a", "b"], "power": 0.3}]}}],
        },
    }
    records = [_record(x) for x in (0.4, 0.6, 0.8)]
    ens = PosteriorEnsemble("test", "laplace", ())
    out = summarise(main, _record(0.6), records, [], ensemble=ens, requested=3, subjects=10)
    arm = out["arms"]["a"]["ep"]
    assert arm["estimate"] == 0.5 and arm["draws"] == [0.4, 0.6, 0.8]
    assert arm["centred_draws"] == pytest.approx([0.3, 0.5, 0.7])
    assert arm["model"]["median"] == pytest.approx(0.5)
    cmp = out["comparisons"][0]
    assert cmp["centred_draws"] == pytest.approx([-0.1, 0.1, 0.3])
    power = out["power"]["ep"][0]
    assert power["power"] == 0.7
    assert power["centred_draws"] == pytest.approx([0.5, 0.7, 0.9])
    assert power["assurance"]["estimate"] == pytest.approx(0.7)
    curve = out["power_curve"][0]["endpoints"]["ep"][0]
    assert curve["assurance"]["estimate"] == pytest.approx(0.3)


def test_posterior_files_are_checked(tmp_path: Path) -> None:
    assert len(load_ensemble()) >= 20  # the installed ensemble
    with pytest.raises(LupusimError, match="no 'draws' list"):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({"parameters": []}))
        load_ensemble(bad)
    with pytest.raises(LupusimError, match="cannot be read as JSON"):
        broken = tmp_path / "broken.json"
        broken.write_text("{")
        load_ensemble(broken)
    with pytest.raises(LupusimError, match="lacks: not_a_parameter"):
        load_ensemble(_posterior_file(tmp_path / "u.json", [{"not_a_parameter": 1.0}]))
    installed = installed_human_posterior()
    assert installed is not None
    stale = json.loads(json.dumps(installed))
    stale["parameters"][0]["value"] *= 1.5
    path = tmp_path / "stale.json"
    path.write_text(json.dumps(stale))
    with pytest.raises(LupusimError, match="differs from the installed human fit"):
        load_ensemble(path)


def test_draw_subjects_follow_the_protocol() -> None:
    deng = load_protocol(EXAMPLES / "deng2017.yaml")  # 18 patients
    assert draw_subjects(deng, 1000, None) == 200
    assert draw_subjects(deng, 150, None) == 150
    assert draw_subjects(deng, 1000, 37) == 37


def _options(**kw: Any) -> TrialOptions:
    base: dict[str, Any] = {
        "n_subjects": 12,
        "chunk_size": 6,
        "n_trials": 20,
        "progress": False,
        "write_report": True,
        "uncertainty_subjects": 12,
    }
    base.update(kw)
    return TrialOptions(**base)


def test_draws_at_the_mode_reproduce_the_fit(tmp_path: Path) -> None:
    """Parameter sets equal to the fit, on as many patients as the main run, must give
    the main run's numbers exactly (same seed: same patients); a set with a weaker
    antimetabolite kill must move them. Either failing means the draws are not the
    protocol rerun under the parameter set."""
    deng = load_protocol(EXAMPLES / "deng2017.yaml")
    mode = _mode()
    weaker = {**mode, "antimetabolite_b_kill": mode["antimetabolite_b_kill"] * 0.05}
    posterior = _posterior_file(tmp_path / "posterior.json", [mode, mode, weaker])
    out = tmp_path / "run"
    summary = run_trial(deng, out, _options(uncertainty=3, posterior=posterior))
    u = summary["uncertainty"]
    assert u["draws_used"] == 3 and u["failed_draws"] == []
    assert u["subjects_per_draw"] == 12
    moved = False
    for arm, block in u["arms"].items():
        for ep, entry in block.items():
            fit = summary["arms"][arm][ep]["estimate"]
            first, second, third = entry["draws"]
            if fit is None:
                continue
            assert first == pytest.approx(fit, rel=1e-9, abs=1e-12), (arm, ep)
            assert second == pytest.approx(fit, rel=1e-9, abs=1e-12), (arm, ep)
            moved |= third is not None and not math.isclose(third, fit, rel_tol=1e-6)
    assert moved, "a 20-fold weaker antimetabolite kill changed no estimate"
    for block in u["arms"].values():
        for entry in block.values():
            if entry["estimate"] is not None:  # the fit's own draws collapse onto it
                assert entry["centred_draws"][0] == pytest.approx(entry["estimate"])
    for cmp in u["comparisons"]:
        fit = next(
            c["difference"]
            for c in summary["comparisons"]
            if c["endpoint"] == cmp["endpoint"] and c["arms"] == cmp["arms"]
        )
        if fit is not None and math.isfinite(fit):
            assert cmp["draws"][0] == pytest.approx(fit, rel=1e-9, abs=1e-12)
    for entries in u["power"].values():
        for e in entries:
            assert 0.0 <= e["assurance"]["estimate"] <= 1.0
    html = (out / "report.html").read_text()
    assert 'id="uncertainty"' in html and "Assurance" in html
    # the posterior file's check travels with the intervals
    assert "Pareto k-hat" in u["posterior_check"]
    assert "Quality of the posterior approximation" in html
    assert not (out / "work").exists()


def test_uncertainty_needs_enough_draws(tmp_path: Path) -> None:
    deng = load_protocol(EXAMPLES / "deng2017.yaml")
    posterior = _posterior_file(tmp_path / "p.json", [_mode()])
    with pytest.raises(LupusimError, match="holds 1 parameter sets"):
        run_trial(deng, tmp_path / "run", _options(uncertainty=2, posterior=posterior))


def test_installed_draws_vary_the_fitted_parameters() -> None:
    """The shipped ensemble is a spread around the fit, not copies of it."""
    ens = load_ensemble()
    preset = get_preset("human")
    for name in ens.draws[0]:
        values = np.array([d[name] for d in ens.draws])
        assert values.std() > 0, name
        assert values.min() <= preset.values[name].value <= values.max(), name
