"""The calibration fit recorded in data/calibration.json, as a section of docs/model.md.

Every residual of every problem (simulated beside published), the rows shown but not
fitted with the reason, the definitions stated as assumptions, and the direction checks
run on the calibrated model (written by scripts/calibrate_sun2009.py).
"""

from __future__ import annotations

import json
import math
from importlib import resources
from typing import Any

from lupusim.model._presets import installed_human_calibration, installed_human_posterior


def _g(x: Any) -> str:
    return f"{x:.4g}" if isinstance(x, int | float) else str(x)


def _rows(residuals: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| target | quantity | simulated | published | scale | residual |",
        "|---|---|---|---|---|---|",
    ]
    for r in residuals:
        scale = f"log, {_g(r['scale'])}" if r.get("log_scale") else _g(r["scale"])
        desc = str(r["description"]).replace("|", "/")
        lines.append(
            f"| {r['target_id']} | {desc} | {_g(r['simulated'])} | {_g(r['published'])} "
            f"| {scale} | {r['residual']:+.2f} |"
        )
    return lines


def render_human_calibration_markdown() -> str:
    """The fit of ``lupusim calibrate human`` (data/calibration_human.json)
    as Markdown: fitted values (at a bound marked), and the goodness of fit of every row."""
    payload = installed_human_calibration()
    if payload is None:
        return ""
    bounds = payload["bounds"]
    values = ", ".join(
        f"`{k}` = {_g(v)}"
        + (" (**at a bound**)" if k in payload["at_bound"] else "")
        + f" [{_g(bounds[k][0])}, {_g(bounds[k][1])}]"
        for k, v in payload["values"].items()
    )
    out = [
        "## Human calibration: control arms and MSC cohorts",
        "",
        f"Written by `lupusim calibrate human` (spec `{payload['spec']}`, "
        f"{payload['subjects']} virtual patients per protocol, seed {payload['seed']}, "
        f"{payload['evaluations']} evaluations, {payload['seconds']:.0f} s; loss "
        f"{_g(payload['initial_loss'])} → {_g(payload['loss'])}). Fitted: {values}.",
        "",
        f"Goodness of fit on fresh virtual patients (seed {payload['gof_seed']}): "
        f"**{payload['within']} of {payload['rows']}** rows within their published interval "
        "(Wilson 95 % at the trial's n for proportions, the published IQR / SD / bootstrap "
        "interval otherwise); z = (simulated − published) / √(SE² + MC²).",
        "",
        "Rows of the MSC cohorts also run a twin arm: the same virtual patients on the same "
        "background therapy without MSC. *Twin* is the statistic there and *MSC increment* "
        "the difference (MSC arm − twin, ± its Monte Carlo SE, which treats the two as "
        "independent and so overstates it): what the fitted model credits to MSC rather "
        "than to background therapy, enrolment at high activity and regression to the mean.",
        "",
        "| row | protocol | published | interval | simulated ± MC SE | within | z | fitted "
        "| twin | MSC increment |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in payload["gof"]:
        twin = r.get("twin_simulated")
        has_twin = twin is not None and math.isfinite(float(twin))
        out.append(
            f"| {r['row']} | {r['protocol']} ({r['arms']}) | {_g(r['published'])} | "
            f"{_g(r['interval_low'])}–{_g(r['interval_high'])} | {_g(r['simulated'])} ± "
            f"{_g(r['mc_se'])} | {'yes' if r['within'] else '**no**'} | {_g(r['z'])} | "
            f"{'yes' if r['fitted'] else 'check'} | "
            + (
                f"{_g(twin)} ({r['twin_arms']}) | {_g(r['increment'])} ± "
                f"{_g(r['increment_mc_se'])} |"
                if has_twin
                else "| |"
            )
        )
    outside = [r["row"] for r in payload["gof"] if not r["within"]]
    out += [
        "",
        f"Rows outside their interval: {', '.join(outside) if outside else 'none'}.",
        "",
        "What the fit cannot do, and what it leaves out:",
        "",
        "- Persistent activity under long therapy is rare in the model: with mycophenolate "
        "from disease onset, only about 1 % of virtual candidates are still active three years "
        "later, so refractory histories (`lupusim.population.refractory_history`) carry "
        "prednisone, not an antimetabolite, before the refractory course.",
        "- The MSC increment is relative to the twin arm's background, the tapered "
        "prednisone and maintenance mycophenolate of the MSC protocols; without MSC the "
        "model lets these refractory patients worsen on that taper, which real cohorts "
        "without MSC were not observed to do (no controlled data in the calibration set).",
        "- The MSC cohorts are not matched to their published baselines (matching to them "
        "made each evaluation about ten times slower); H1, H3, H6 and H18 show the gap "
        "and H19 (absolute eGFR at 12 months) is a check for that reason.",
        "- Cyclophosphamide is close to a cure: at the fitted `cyclophosphamide_b_kill` one "
        "NIH pulse (0.75 g/m², one reference dose) removes about 98 % of autoreactive B "
        "cells, so nine monthly pulses leave only about 0.05-0.2 % of virtual candidates "
        "active; the seed patients of `lupusim reproduce sun2009`, refractory to that "
        "course, come from that thin tail (low eGFR, proteinuria that MSC does not "
        "clear: none remits in the prior-predictive count), and the held-out ALMS arms "
        "respond far more often than published ([predictions](predictions.md)). "
        "The magnitude is set by the "
        "Euro-Lupus rows S1-S2 (500 mg pulses) and extrapolated linearly in dose.",
        "- Not declared: H20-H22 (BILAG-based responses: the model has no BILAG grades), "
        "H23-H26 (Liu 2011, a different 14-patient cohort), H27 (a direction check in "
        "`lupusim reproduce sun2009`).",
    ]
    out += render_identifiability_markdown()
    return "\n".join(out) + "\n"


def identifiability_notes() -> dict[str, str]:
    """``identifiability: LABEL (width ratio R)`` of each free parameter of the installed
    posterior, by name (empty when no posterior is installed)."""
    payload = installed_human_posterior()
    if payload is None:
        return {}
    return {
        p["name"]: f"identifiability: {p['identifiability']} (width ratio {p['width_ratio']:.2f})"
        for p in payload["parameters"]
    }


def _best_draw(check: dict[str, Any], loss_at_mode: float) -> str:
    """A sentence on the lowest loss among the checked draws, against the fit's."""
    losses = [v for v in check.get("losses", []) if v is not None]
    if not losses:
        return ""
    best = min(losses)
    text = (
        f" Loss at the evaluated draws: {min(losses):.4g}–{max(losses):.4g} "
        f"(the fit's: {loss_at_mode:.4g})"
    )
    if best < loss_at_mode:
        text += (
            "; a draw with a lower loss than the fit means the fit had not reached the "
            "optimum, so the mode of this approximation is not the posterior's"
        )
    return text + "."


def render_identifiability_markdown() -> list[str]:
    """The installed Laplace posterior (``lupusim calibrate posterior``) as Markdown."""
    payload = installed_human_posterior()
    if payload is None:
        return []
    out = [
        "",
        "### Identifiability of the human fit",
        "",
        "Written by `lupusim calibrate posterior`: a Laplace approximation around the "
        "installed fit, with the Gauss–Newton Hessian JᵀJ of the fitted rows' residuals "
        f"(forward differences of {payload['diff_step']:g} in log-parameters, on the fit's own "
        f"{payload['subjects']} virtual patients per protocol, seed {payload['seed']}; "
        f"{payload['seconds']:.0f} s). Width ratio = marginal posterior sd / prior sd of the "
        "log-parameter, the prior being the fit's search box. The likelihood is widened by "
        f"the misfit factor s² = {payload['misfit_factor']:.3g} (loss "
        f"{payload['loss_at_mode']:.4g} over {payload['fitted_rows']} fitted rows less "
        f"{len(payload['parameters'])} parameters; 1 when the model fits within the "
        "spreads). Labels: *structurally "
        "non-identifiable* when no fitted row moves with the parameter, *practically "
        "non-identifiable* when the ratio is 0.5 or more, *identifiable* otherwise. "
        f"{len(payload['draws'])} parameter sets drawn from this posterior (truncated to "
        "the search box) ship with it "
        "(`lupusim/model/data/posterior_human.json`).",
        "",
        "Limits: one Gaussian at the optimum; the residuals are step functions of the "
        "parameters at the scale of one virtual patient, so the Jacobian is a secant over "
        "the step. An MCMC run is out of reach (about 9 s per evaluation of the "
        "objective); the check below evaluates the exact posterior at draws of the "
        "Gaussian instead.",
        "",
    ]
    check = payload.get("check")
    if check is not None:
        k = check["pareto_k"]
        out += [
            f"**Importance-sampling check** (`lupusim calibrate posterior --check "
            f"{check['draws_evaluated'] + check['draws_outside_box']}`; Vehtari et al., "
            "*JMLR* 2024;25:1; Yao et al., ICML 2018): the exact posterior — the search box "
            "as a flat prior, the likelihood widened by s² — was evaluated at "
            f"{check['draws_evaluated']} draws of the Gaussian "
            f"({check['draws_outside_box']} more fell outside the box, ratio 0). Pareto "
            f"k̂ of the importance ratios = {'NA' if k is None else f'{k:.2f}'} "
            f"(**{check['verdict']}**; below 0.5 good, 0.5–0.7 usable with care, above "
            f"0.7 unreliable); effective sample size {check['effective_sample_size']:.1f}. "
            "The reweighted column gives the importance-weighted 90 % interval"
            + (
                " (with so few effective draws it is not an estimate to use)."
                if check["effective_sample_size"] < 10
                else "."
            )
            + _best_draw(check, payload["loss_at_mode"]),
            "",
        ]
        head = (
            "| parameter | value | 90 % interval | reweighted 90 % | bounds | width ratio "
            "| identifiability |"
        )
        rule = "|---|---|---|---|---|---|---|"
    else:
        head = "| parameter | value | 90 % interval | bounds | width ratio | identifiability |"
        rule = "|---|---|---|---|---|---|"
    out += [head, rule]
    reweighted = check["reweighted_interval90"] if check is not None else {}
    for p in payload["parameters"]:
        lo, hi = p["interval90"]
        blo, bhi = p["bounds"]
        extra = ""
        if check is not None:
            rlo, rhi = reweighted[p["name"]]
            extra = f" {_g(rlo)}–{_g(rhi)} |"
        out.append(
            f"| `{p['name']}` | {_g(p['value'])} | {_g(lo)}–{_g(hi)} |{extra} "
            f"[{_g(blo)}, {_g(bhi)}] | {p['width_ratio']:.2f} | {p['identifiability']} |"
        )
    return out


def render_calibration_markdown() -> str:
    """The calibration fit as Markdown (empty when calibration.json is absent)."""
    human = render_human_calibration_markdown()
    path = resources.files("lupusim.model").joinpath("data/calibration.json")
    if not path.is_file():
        return human
    payload = json.loads(path.read_text())
    out = [
        "## Calibration fit",
        "",
        f"Written by `{payload['script']}` (at most {payload['max_evaluations']} evaluations "
        f"per problem, {payload['seconds']:.0f} s in all). Residual = (simulated − "
        "published) / scale (log ratio / scale where marked); the loss is the sum of "
        "squared residuals of the fitted rows.",
        "",
    ]
    for preset, entry in payload["presets"].items():
        for problem in entry["problems"]:
            out += [
                f"### {problem['problem']} (preset `{preset}`)",
                "",
                f"Loss {problem['initial_loss']:.4g} → {problem['loss']:.4g} in "
                f"{problem['evaluations']} evaluations ({problem['seconds']:.0f} s). Fitted: "
                + ", ".join(f"`{k}` = {_g(v)}" for k, v in problem["values"].items())
                + ".",
                "",
                *_rows(problem["residuals"]),
                "",
            ]
            unfitted = problem.get("unfitted_residuals", [])
            if unfitted:
                out += ["Shown, not fitted (simulated at the fitted values):", ""]
                out += _rows(unfitted)
                out += [""]
                out += [f"* {r['target_id']}: not fitted because {r['reason']}" for r in unfitted]
                out += [""]
            definitions = problem.get("definitions", {})
            if definitions:
                out += ["Definitions of these rows:", ""]
                out += [f"* {k}: {v}" for k, v in definitions.items()]
                out += [""]
    for tid, check in payload.get("checks", {}).items():
        change = check["mean_sledai2k_change_at_14_weeks"]
        out += [
            f"### {tid} direction check (not a fit)",
            "",
            f"{check['source']}. Model ({check['n_patients']} virtual patients, mean "
            f"SLEDAI-2K (approx.) {check['mean_sledai2k_day0']:.3g} at day 0): change at 14 "
            "weeks "
            + ", ".join(f"{arm} {v:+.2f}" for arm, v in change.items())
            + f"; autologous effect versus no MSC {check['autologous_effect_vs_no_msc']:+.2f}, "
            f"allogeneic {check['allogeneic_effect_vs_no_msc']:+.2f}. Consistent with the "
            f"source: **{'yes' if check['consistent_with_source'] else 'no'}**.",
            "",
            f"Definition — {check['definition']}.",
            "",
        ]
    return "\n".join(out) + ("\n\n" + human if human else "")
