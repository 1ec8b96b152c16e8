"""Running virtual trials: population, paired arms, storage, resume, analysis, backends."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from lupusim.errors import LupusimError
from lupusim.model import get_preset
from lupusim.treatments import GlucocorticoidTaper, Prednisone, Regimen
from lupusim.trial import TrialOptions, load_protocol, protocol_from_dict, read_table, run_trial
from lupusim.trial._analysis import randomise
from lupusim.trial._cohort import build_population, screen
from lupusim.trial._simulate import cumulative_prednisone_g

EXAMPLES = Path(__file__).parents[1] / "examples" / "trials"


def _options(**kw: Any) -> TrialOptions:
    base: dict[str, Any] = {
        "n_subjects": 12,
        "chunk_size": 6,
        "n_trials": 20,
        "progress": False,
        "write_report": False,
    }
    base.update(kw)
    return TrialOptions(**base)


@pytest.fixture(scope="module")
def deng() -> Any:
    return load_protocol(EXAMPLES / "deng2017.yaml")


@pytest.fixture(scope="module")
def deng_run(deng: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("deng")
    summary = run_trial(deng, out, _options())
    return out, summary


def test_summary_has_the_contracted_shape(deng: Any, deng_run: tuple[Path, dict[str, Any]]) -> None:
    out, _ = deng_run
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["protocol"] == "deng2017"
    for arm in ("uc_msc", "placebo"):
        block = on_disk["arms"][arm]
        assert block["n"] == 12
        for ep in deng.endpoints:
            est = block[ep.name]
            assert set(est) >= {"estimate", "ci95"}
            lo, hi = est["ci95"]
            if est["estimate"] is not None and lo is not None:
                assert lo <= est["estimate"] <= hi
    names = {c["endpoint"] for c in on_disk["comparisons"]}
    assert names == {ep.name for ep in deng.endpoints}
    for c in on_disk["comparisons"]:
        assert set(c) >= {"endpoint", "arms", "difference", "ci95", "p_value"}
        assert c["arms"] == ["uc_msc", "placebo"]
    assert on_disk["trial"]["n_per_arm"] == {"uc_msc": 12, "placebo": 6}
    power = on_disk["power"]["endpoints"]["remission_month6"][0]
    assert 0.0 <= power["power"] <= 1.0
    assert (out / "manifest.json").exists()
    assert not (out / "work").exists()
    assert json.loads((out / "run.json").read_text())["state"] == "complete"


def test_database_holds_every_table(deng: Any, deng_run: tuple[Path, dict[str, Any]]) -> None:
    out, _ = deng_run
    subjects = read_table(out, "subjects")
    assert len(subjects) == 12
    params = read_table(out, "parameters")
    assert list(params["subject_id"]) == list(subjects["subject_id"])
    outcomes = read_table(out, "outcomes")
    status = read_table(out, "status")
    n_ok = int(status["ok"].sum())
    assert len(outcomes) == n_ok * len(deng.endpoints)
    assert (status["policy_events"] == 0).all()  # Deng 2017 arms have no relapse rules
    visits = read_table(out, "visits")
    scores = read_table(out, "scores")
    assert {"subject_id", "visit", "study_day", "arm", "protein_24h_g"} <= set(visits.columns)
    assert {"sledai2k", "renal_deng_2017", "arm"} <= set(scores.columns)
    traj = read_table(out, "trajectories")
    assert set(traj["arm"]) == {"uc_msc", "placebo"}


def test_population_meets_the_criteria(deng: Any, deng_run: tuple[Path, dict[str, Any]]) -> None:
    out, summary = deng_run
    subjects = read_table(out, "subjects")
    assert (subjects["protein_24h_g"] >= 1.0).all()
    assert (subjects["age_years"] >= 18).all()
    assert (subjects["egfr_ml_min_1_73m2"] >= 30).all()
    screening = summary["population"]["screening"]
    assert screening["selected"] == 12
    assert screening["eligible"] >= 12


def test_a_killed_run_resumes_to_the_same_result(deng: Any, tmp_path: Path) -> None:
    whole = run_trial(deng, tmp_path / "whole", _options())
    with pytest.raises(KeyboardInterrupt):
        run_trial(deng, tmp_path / "resumed", _options(), stop_after_chunks=1)
    assert (tmp_path / "resumed" / "work" / "chunks").exists()
    messages: list[str] = []
    resumed = run_trial(deng, tmp_path / "resumed", _options(), log=messages.append)
    assert any("1 of 2 chunks already done" in m for m in messages)
    assert resumed["arms"] == whole["arms"]
    assert resumed["comparisons"] == whole["comparisons"]
    assert resumed["power"] == whole["power"]
    a = read_table(tmp_path / "whole", "visits").sort_values(["arm", "subject_id", "study_day"])
    b = read_table(tmp_path / "resumed", "visits").sort_values(["arm", "subject_id", "study_day"])
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_finished_or_foreign_directories_are_refused(deng: Any, tmp_path: Path) -> None:
    run_trial(deng, tmp_path, _options(n_subjects=6, n_trials=5))
    with pytest.raises(LupusimError, match="already holds this finished run"):
        run_trial(deng, tmp_path, _options(n_subjects=6, n_trials=5))
    with pytest.raises(LupusimError, match="different run"):
        run_trial(deng, tmp_path, _options(n_subjects=6, n_trials=5, seed=99))
    again = run_trial(deng, tmp_path, _options(n_subjects=6, n_trials=5, seed=99, overwrite=True))
    assert again["arms"]["placebo"]["n"] == 6


def test_identical_arms_give_identical_outcomes(deng: Any, tmp_path: Path) -> None:
    """Common random numbers: two arms with the same regimen differ in nothing."""
    data = yaml.safe_load((EXAMPLES / "deng2017.yaml").read_text())
    twin = copy.deepcopy(data["arms"][1])
    twin["name"] = "placebo_twin"
    data["arms"] = [data["arms"][1], twin]
    data["allocation"]["ratio"] = {"placebo": 1, "placebo_twin": 1}
    protocol = protocol_from_dict(data)
    summary = run_trial(protocol, tmp_path, _options(n_subjects=8, chunk_size=8, n_trials=5))
    a, b = summary["arms"]["placebo"], summary["arms"]["placebo_twin"]
    assert a == b
    outcomes = read_table(tmp_path, "outcomes")
    left = outcomes[outcomes["arm"] == "placebo"].drop(columns="arm").reset_index(drop=True)
    right = outcomes[outcomes["arm"] == "placebo_twin"].drop(columns="arm").reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right)
    remission = next(c for c in summary["comparisons"] if c["endpoint"] == "remission_month6")
    assert remission["difference"] == 0.0


def test_screening_counts_each_failed_criterion(deng: Any) -> None:
    baseline = {
        "protein_24h_g": np.array([0.5, 2.0, 3.0, np.nan]),
        "age_years": np.array([30.0, 15.0, 40.0, 40.0]),
        "egfr_ml_min_1_73m2": np.array([90.0, 90.0, 20.0, 90.0]),
    }
    eligible, failed = screen(deng.population, baseline)
    assert eligible.tolist() == [False, False, False, False]
    assert failed["inclusion: protein_24h_g >= 1 g/day"] == 2  # 0.5 and NaN
    assert failed["inclusion: age_years >= 18 years"] == 1
    assert failed["exclusion: egfr_ml_min_1_73m2 < 30 mL/min/1.73m2"] == 1


def test_refractory_history_is_simulated() -> None:
    protocol = load_protocol(EXAMPLES / "long_term_msc.yaml")
    pop = build_population(protocol.population, 6, seed=3, batch=200)
    assert set(pop.cohort.history) <= {
        "6 months of cyclophosphamide",
        "6 months of mycophenolate",
    }
    assert (pop.cohort.baseline["sledai2k"] >= 8).all()
    assert (pop.cohort.baseline["protein_24h_g"] >= 1.0).all()


def test_cumulative_prednisone_is_exact_for_a_taper() -> None:
    model = get_preset("human").model
    regimen = Regimen(
        "t",
        (
            Prednisone(0.0, 10.0, 40.0),
            GlucocorticoidTaper(((10.0, 20.0), (30.0, 10.0)), 50.0),
        ),
    )
    events = regimen.events(model, get_preset("human").parameter_vector())
    # 40 mg × 10 d + 20 mg × 20 d + 10 mg × 20 d = 1000 mg; nothing after day 50
    assert cumulative_prednisone_g(events, 100.0) == pytest.approx(1.0)
    assert cumulative_prednisone_g(events, 20.0) == pytest.approx(0.6)


def test_randomisation_sizes_and_strata() -> None:
    rng = np.random.default_rng(0)
    idx, replaced = randomise(100, {"a": 20, "b": 10}, {"a": 2, "b": 1}, rng)
    assert not replaced
    assert len(idx["a"]) == 20 and len(idx["b"]) == 10
    assert not set(idx["a"]) & set(idx["b"])
    strata = np.where(np.arange(100) < 50, "female", "male")
    idx, _ = randomise(100, {"a": 30, "b": 30}, {"a": 1, "b": 1}, rng, strata)
    for arm in ("a", "b"):
        # permuted blocks of 2 within each stratum: at most one extra per stratum
        n_f = int((strata[idx[arm]] == "female").sum())
        n_m = int((strata[idx[arm]] == "male").sum())
        other = "b" if arm == "a" else "a"
        assert abs(n_f - int((strata[idx[other]] == "female").sum())) <= 1
        assert abs(n_m - int((strata[idx[other]] == "male").sum())) <= 1
    _, replaced = randomise(10, {"a": 20, "b": 10}, {"a": 2, "b": 1}, rng)
    assert replaced


def test_ray_backend_matches_local(
    deng: Any, deng_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    pytest.importorskip("ray")
    out, local = deng_run
    ray_summary = run_trial(deng, tmp_path, _options(backend="ray", workers=2))
    assert ray_summary["arms"] == local["arms"]
    assert ray_summary["comparisons"] == local["comparisons"]
    assert ray_summary["power"] == local["power"]
    a = read_table(out, "scores").sort_values(["arm", "subject_id", "study_day"])
    b = read_table(tmp_path, "scores").sort_values(["arm", "subject_id", "study_day"])
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_target_population_is_matched_and_reported() -> None:
    protocol = load_protocol(EXAMPLES / "seed_pilot.yaml")
    assert protocol.population.target == "liang2010_refractory_ln"
    pop = build_population(protocol.population, 100, seed=4, batch=500)
    assert len(pop) == 100
    match = pop.match
    assert match is not None and match["target"] == "liang2010_refractory_ln"
    # prevalence selection moves every matched marginal (SLEDAI-2K, 24-h protein) towards
    # Liang 2010's; with 100 selected the KS distance is not dominated by which few are drawn
    for v in match["selected"]["variables"]:
        assert v["ks_weighted"] < v["ks_unweighted"], v["variable"]
        # ...and its mean or its spread (a heavy unweighted tail can put the unweighted
        # mean near the target's by chance while the shape is far from it)
        closer = [
            abs(v[f"{stat}_weighted"] - v[f"target_{stat}"])
            < abs(v[f"{stat}_unweighted"] - v[f"target_{stat}"])
            for stat in ("mean", "sd")
        ]
        assert any(closer), v["variable"]
    assert 0 < match["pool"]["effective_n"] <= match["pool"]["n_candidates"]


def test_unknown_target_is_a_field_error() -> None:
    data = yaml.safe_load((EXAMPLES / "seed_pilot.yaml").read_text())
    data["population"]["target"] = "nanjing_2099"
    message = r"population\.target: value 'nanjing_2099': unknown target population"
    with pytest.raises(LupusimError, match=message):
        protocol_from_dict(data, file="p.yaml")


@pytest.mark.parametrize("name", ["seed_pilot", "deng2017", "alms", "long_term_msc"])
def test_every_shipped_protocol_runs(name: str, tmp_path: Path) -> None:
    protocol = load_protocol(EXAMPLES / f"{name}.yaml")
    summary = run_trial(protocol, tmp_path, _options(n_subjects=4, chunk_size=4, n_trials=3))
    assert set(summary["arms"]) == {a.name for a in protocol.arms}
    for block in summary["arms"].values():
        assert block["n"] == 4
        assert set(block) == {"n", *(ep.name for ep in protocol.endpoints)}
    if name == "alms":  # race and biopsy class are not attributes of virtual patients
        assert summary["trial"]["strata_not_available"] == ["race", "ln_class"]


def test_discontinuation_removes_later_visits_and_counts_as_non_response(
    tmp_path: Path,
) -> None:
    """Subjects who leave the study have no visits after their day; an instrument read at
    a later visit counts them as non-responders. The same patients without
    discontinuation keep every visit."""
    data = yaml.safe_load((EXAMPLES / "deng2017.yaml").read_text())
    data["discontinuation"] = {"per_year": 2.0, "source": "test: a high rate"}
    leaving = protocol_from_dict(data)
    staying = protocol_from_dict({k: v for k, v in data.items() if k != "discontinuation"})
    opts = _options(n_subjects=10, chunk_size=10, n_trials=3)
    run_trial(leaving, tmp_path / "leave", opts)
    run_trial(staying, tmp_path / "stay", opts)
    status = read_table(tmp_path / "leave", "status")
    left = status["discontinued_day"].notna()
    assert 0 < left.sum() < len(status)  # 2/year over 12 months: most, not all, leave
    visits = read_table(tmp_path / "leave", "visits")
    merged = visits.merge(status[["subject_id", "arm", "discontinued_day"]])
    after = merged["study_day"] > merged["discontinued_day"]
    assert not after.any()
    assert len(visits) < len(read_table(tmp_path / "stay", "visits"))
    assert read_table(tmp_path / "stay", "status")["discontinued_day"].isna().all()


def test_trial_entrants_have_cited_histories() -> None:
    from lupusim.population import trial_entrant_histories
    from lupusim.population._baseline import (
        ENTRANT_PREDNISONE_SHARE,
        ENTRANT_RELAPSED_SHARE,
    )

    histories = trial_entrant_histories()
    weights = np.array([h.weight for h in histories])
    assert weights.sum() == pytest.approx(1.0)
    on_pred = sum(h.weight for h in histories if "no prednisone" not in h.name)
    relapsing = sum(h.weight for h in histories if "relapsing" in h.name)
    assert on_pred == pytest.approx(ENTRANT_PREDNISONE_SHARE)
    assert relapsing == pytest.approx(ENTRANT_RELAPSED_SHARE)
    protocol = load_protocol(EXAMPLES / "alms.yaml")
    pop = build_population(protocol.population, 60, seed=5, batch=200)
    pred = pop.cohort.baseline["prednisone_mg_day"]
    # about 90 % arrive on 16 mg/day (Binomial(60, 0.9): 45-60 with high probability)
    assert 45 <= int((pred > 0).sum()) <= 60
