"""The virtual-trial report: rendered from a real (tiny) run's outputs alone."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from lupusim.errors import LupusimError
from lupusim.report import render_trial_report
from lupusim.report._format import estimate_ci, p_value
from lupusim.trial import load_protocol
from lupusim.trial._run import TrialOptions, run_trial

EXAMPLES = Path(__file__).parents[1] / "examples" / "trials"
IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)"')


def _run(tmp: Path, name: str, **options: Any) -> Path:
    out = tmp / name
    settings: dict[str, Any] = {
        "chunk_size": 8,
        "n_trials": 20,
        "progress": False,
        "write_report": False,
        **options,
    }
    run_trial(load_protocol(EXAMPLES / f"{name}.yaml"), out, TrialOptions(**settings))
    return out


@pytest.fixture(scope="module")
def deng(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    """A two-arm run with a power curve, rendered once: (dir, summary, html)."""
    out = _run(tmp_path_factory.mktemp("deng"), "deng2017", n_subjects=16, power_curve=(9, 18))
    path = render_trial_report(out)
    summary = json.loads((out / "summary.json").read_text())
    return out, summary, path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def pilot(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    """A single-arm run (no power), rendered once."""
    out = _run(tmp_path_factory.mktemp("pilot"), "seed_pilot", n_subjects=6)
    path = render_trial_report(str(out))  # a str is accepted too
    summary = json.loads((out / "summary.json").read_text())
    return out, summary, path.read_text(encoding="utf-8")


def _images(html: str) -> dict[str, bytes]:
    return {alt: base64.b64decode(data) for data, alt in IMG.findall(html)}


def test_report_is_written_self_contained(deng: tuple[Path, dict[str, Any], str]) -> None:
    out, _, html = deng
    assert (out / "report.html").is_file()
    assert html.startswith("<!DOCTYPE html>")
    assert html.rstrip().endswith("</html>")
    assert not re.search(r'(src|href)="(https?:)?//', html), "no external resources"
    assert "Model predictions, not trial data" in html
    assert "deng2017" in html and "Ann Rheum Dis 2017" in html


def test_report_names_every_arm_and_endpoint(deng: tuple[Path, dict[str, Any], str]) -> None:
    _, summary, html = deng
    assert set(summary["arms"]) == {"uc_msc", "placebo"}
    for arm in summary["arms"]:
        assert arm in html
    for endpoint in summary["endpoints"]:
        assert f'id="ep-{endpoint.replace("_", "-")}"' in html


def test_report_figures_are_inline_pngs(deng: tuple[Path, dict[str, Any], str]) -> None:
    _, summary, html = deng
    images = _images(html)
    assert html.count("<img") == len(images) >= 13
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in images.values())
    for variable in ("protein_24h_g", "egfr_ml_min_1_73m2", "c3_g_l", "sledai2k"):
        assert f"trajectory: {variable}" in images
    assert "screening funnel" in images
    assert "power curve" in images
    for endpoint, spec in summary["endpoints"].items():  # a bar or box figure each
        assert spec["kind"] in ("binary", "numeric", "rate")
        assert endpoint in images


def test_report_numbers_carry_their_cis(deng: tuple[Path, dict[str, Any], str]) -> None:
    _, summary, html = deng
    est = summary["arms"]["placebo"]["remission_month6"]
    assert estimate_ci(est["estimate"], est["ci95"]) in html
    primary = next(c for c in summary["comparisons"] if c["endpoint"] == "remission_month6")
    assert estimate_ci(primary["difference"], primary["ci95"]) in html
    assert "events per 100 patient-years" in html
    # the power curve table holds the requested totals and the protocol's size
    assert re.search(r"<td class=\"num\">9</td>", html)
    assert "18 (protocol)" in html


def test_rendering_is_deterministic(deng: tuple[Path, dict[str, Any], str]) -> None:
    out, _, html = deng
    again = render_trial_report(out).read_text(encoding="utf-8")
    assert again == html


def test_single_arm_report_shows_the_power_note(pilot: tuple[Path, dict[str, Any], str]) -> None:
    _, summary, html = pilot
    assert list(summary["arms"]) == ["msc"]
    assert summary["power"] == {"note": "single-arm protocol: no between-arm comparison to power"}
    assert "single-arm protocol: no between-arm comparison to power" in html
    images = _images(html)
    assert "power curve" not in images
    # time-to-event endpoints get Kaplan-Meier curves with numbers at risk
    assert {"time_to_flare", "time_to_death"} <= set(images)
    assert "Number at risk" in html


def test_missing_summary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LupusimError, match=r"summary\.json"):
        render_trial_report(tmp_path)
    (tmp_path / "summary.json").write_text("[1, 2]")
    with pytest.raises(LupusimError, match="JSON object"):
        render_trial_report(tmp_path)


def test_nulls_and_a_missing_database_still_render(
    deng: tuple[Path, dict[str, Any], str], tmp_path: Path
) -> None:
    _, summary, _ = deng
    broken = json.loads(json.dumps(summary))
    for block in broken["arms"].values():
        for value in block.values():
            if isinstance(value, dict):
                value["estimate"] = None
                value["ci95"] = [None, None]
    for cmp in broken["comparisons"]:
        cmp.update(difference=None, ci95=None, p_value=None)
    broken["power"] = None
    broken["population"] = None
    broken["trial"] = None
    broken["settings"] = None
    (tmp_path / "summary.json").write_text(json.dumps(broken))
    html = render_trial_report(tmp_path).read_text(encoding="utf-8")
    assert "results.duckdb is missing" in html
    assert "No power analysis in summary.json" in html
    assert "uc_msc" in html and "remission_month6" in html


def test_a_missing_table_is_noted(deng: tuple[Path, dict[str, Any], str], tmp_path: Path) -> None:
    import duckdb

    out, _, _ = deng
    shutil.copy(out / "summary.json", tmp_path / "summary.json")
    shutil.copy(out / "results.duckdb", tmp_path / "results.duckdb")
    con = duckdb.connect(str(tmp_path / "results.duckdb"))
    con.execute("DROP TABLE trajectories")
    con.execute("ALTER TABLE subjects DROP COLUMN egfr_ml_min_1_73m2")
    con.close()
    html = render_trial_report(tmp_path).read_text(encoding="utf-8")
    assert "Table &#39;trajectories&#39; could not be read" in html
    assert "trajectory: " not in html
    assert "remission_month6" in _images(html)  # the rest is still drawn


def test_target_match_is_tabulated(deng: tuple[Path, dict[str, Any], str], tmp_path: Path) -> None:
    out, summary, _ = deng
    variable = {
        "variable": "protein_24h_g",
        "target": "normal",
        "ks_weighted": 0.05,
        "ks_unweighted": 0.31,
        "mean_weighted": 2.1,
        "sd_weighted": 0.9,
        "mean_unweighted": 1.4,
        "sd_unweighted": 0.6,
        "target_mean": 2.0,
        "target_sd": 1.0,
        "n_finite": 900,
    }
    report = {"kind": "weights", "effective_n": 123.4, "n_candidates": 900, "n_positive": 850}
    summary = json.loads(json.dumps(summary))
    summary["population"]["target"] = "alms_induction"
    summary["population"]["match"] = {
        "target": "alms_induction",
        "pool": {**report, "max_ks": 0.05, "variables": [variable]},
        "selected": {
            **report,
            "kind": "selection",
            "max_ks": 0.2,
            "variables": [{**variable, "ks_weighted": 0.2, "mean_weighted": 2.3}],
        },
    }
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    shutil.copy(out / "results.duckdb", tmp_path / "results.duckdb")
    html = render_trial_report(tmp_path).read_text(encoding="utf-8")
    assert "Match to the target population (alms_induction)" in html
    assert "123" in html and "KS before" in html
    assert "24-h urine protein (g/day)" in html
    assert '<td class="num bad">0.200</td>' in html  # the selected KS above 0.1


@pytest.mark.parametrize(
    ("estimate", "ci", "text"),
    [
        (0.64, [0.5714, 0.7033], "0.64 (0.57–0.70)"),
        (-0.2951, [-0.3574, -0.2298], "−0.30 (−0.36 to −0.23)"),
        (12.231, [10.13, 14.64], "12.2 (10.1–14.6)"),
        (0.5, [None, None], "0.50"),
        (None, None, "—"),
    ],
)
def test_estimate_format(estimate: Any, ci: Any, text: str) -> None:
    assert estimate_ci(estimate, ci) == text


def test_p_value_format() -> None:
    assert p_value(None) == "—"
    assert p_value(4e-48) == "< 0.001"
    assert p_value(0.0449) == "0.045"
