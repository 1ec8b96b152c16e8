"""The equation listing of docs/model.md, generated from the symbolic model.

``render_model_markdown()`` is the only source of docs/model.md; a test checks the
committed file is current (regenerate with ``python scripts/generate_model_docs.py``).
"""

from __future__ import annotations

import sympy as sp

from lupusim.model._calibration_doc import identifiability_notes, render_calibration_markdown
from lupusim.model._presets import PRESET_NAMES, PROCESS_PARAMETERS, get_preset
from lupusim.model._provenance import Assumption, Calibrated, Citation
from lupusim.model._sle import build_model

_INTRO = """\
# The lupusim model

Generated from the symbolic model by `python scripts/generate_model_docs.py`; do not edit
by hand. Time is in days. Every parameter has a unit, a value and a provenance: a
citation (tag V verbatim, P paraphrased, I inferred from sourced numbers, M background
knowledge not re-verified), *calibrated* (fitted by `scripts/calibrate_sun2009.py` to the
named rows of targets.csv) or an *assumption* with its reason.

## Structure

* **Host bone-marrow MSC** (`host_msc_function`, 0–1): intrinsically impaired in lupus,
  damaged by IL-17, repaired by donor MSC, restraining B-cell and Th17 activation,
  supporting Treg and trabecular bone (Sun 2009; Ma 2015).
* **Donor MSC** lodge in the lung and are cleared with a 24 h half-life (Lee 2009); the
  pulse causes T-cell apoptosis → macrophage TGF-β → Treg (Akiyama 2012) and TGF-β-driven
  restraint of autoreactive B cells (IL-10⁺ Breg, PMC8466915), a response outlasting the
  cells.
* **Autoimmune loop** (Arazi & Neumann 2010): autoreactive B cells → anti-dsDNA → immune
  complexes (cleared by complement, consuming C3/C4) → inflammation → Th17 help → B-cell
  activation (Hill-4: a tolerant and an active state).
* **Organs**: glomerular deposits → reversible renal activity (Budu-Grajdeanu 2010) →
  irreversible chronic damage (Hao 2014); skin, joints, CNS; blood counts; bone.
* **Drugs** as effect compartments (cyclophosphamide bolus; glucocorticoid and
  antimetabolites as daily inputs); **hazards** of death and serious infection,
  integrated as states and sampled as events after integration.

Species differ in parameter values and in the kidney read-outs: the human model reports
UPCR, 24-h protein, GFR (equal to the CKD-EPI 2021 creatinine eGFR, Inker 2021, whose
inverse gives serum creatinine), and albumin; the mouse model reports urine
albumin:creatinine and creatinine proportional to 1/GFR.
"""

_OPERATIONAL = """\
## Operational definitions and treatment conversions

Assumptions used to compare simulations with published targets (sun2009):

* ANA detectable (M3): anti-dsDNA above 45 IU/mL (healthy 5 IU/mL + 10 % of the model's
  maximal titre of 400 IU/mL).
* Kidney pathology (M4): renal activity above 0.3.
* Nephritis onset (M6): urine ACR first above 300 mg/g (ten times a healthy mouse).
* Renal remission of the seed patients: 24-h protein < 0.5 g; relapse: > 1.0 g after
  remission (the proteinuria relapse of Liang 2010).
* The four seed patients (sun2009) are drawn from the human prior with the published
  demographics and inclusion criteria; by default the draw is conditioned on the
  published 18-month course (stable renal remission), and the share of candidates with
  that course under each arm is reported as the model's prior prediction. Relapses in the
  10-year projection are treated (prednisone 30 → 5 mg/day over 6 months plus
  mycophenolate 2 g/day for 2 years; assumption), or by MSC re-infusion on request.
* Projection uncertainty: extrinsic flare triggers (Poisson 0.5/year, an inflammation
  burst ~ Exp(mean 1)) and the host-MSC relaxation rate (CV 50 %) — assumptions.
* SLEDAI-2K of virtual patients is scored by `lupusim.clinical` from a virtual visit
  table (`lupusim.observe.visit_table`): laboratory values go in as numbers (the
  instrument's thresholds, SPEC §1.2, with C3 LLN 0.9 g/L, C4 LLN 0.1 g/L and anti-dsDNA
  ULN 30 IU/mL as assumed reference limits); organ descriptors are booleans from
  organ-activity thresholds (assumptions): casts renal activity > 0.8, rash skin > 0.3,
  alopecia > 0.6, mucosal ulcers > 0.9, arthritis joint > 0.4, a CNS descriptor CNS > 0.5,
  fever inflammation > 1.5.

Treatment conversions (`lupusim.treatments`):

* Cyclophosphamide exposure is counted in reference doses of 20 mg/kg human-equivalent
  (0.75 g/m² for 60 kg and 1.6 m², Sun 2009's monthly dose); mouse mg/kg ÷ 12.3 gives
  the human-equivalent dose (FDA 2005 body-surface-area guidance) [M]; body-surface area
  by Mosteller.
* Methylprednisolone counts 1.25 × as prednisone [M].
* MSC potency per viable cell: healthy allogeneic bone marrow 1; umbilical cord 1
  (assumption: the Nanjing cohorts pooled both, Wang 2013); autologous lupus MSC the
  patient's intrinsic MSC function (Carrión 2010: defective).
* Mouse cyclophosphamide schedule (sun2009 `ctx`): 200 mg/kg every 2 weeks from week 9 to
  19 — assumption; the seed gives dose and start only.
"""


def _latex(expr: sp.Expr) -> str:
    return sp.latex(expr, mul_symbol="dot", ln_notation=True)


def _sym(name: str) -> str:
    return r"\mathrm{" + name.replace("_", r"\_") + "}"


def _provenance_text(p: Citation | Calibrated | Assumption, note: str = "") -> str:
    """The provenance, and ``note`` (a calibrated parameter's identifiability) after it."""
    text = p.describe()
    if note and isinstance(p, Calibrated):
        text += "; " + note
    return text.replace("|", "/")


def render_model_markdown() -> str:
    """The full text of docs/model.md."""
    lines = [_INTRO]
    for species in ("mouse", "human"):
        spec = build_model(species)
        names = {s.symbol: sp.Symbol(_sym(s.name)) for s in spec.states}
        names |= {p.symbol: sp.Symbol(_sym(p.name)) for p in spec.parameters}
        names |= {u.symbol: sp.Symbol(_sym(u.name)) for u in spec.inputs}
        lines.append(f"## {species.capitalize()} model `{spec.name}`\n")
        lines.append(f"### States ({len(spec.states)})\n")
        lines.append("| state | unit | meaning |\n|---|---|---|")
        lines += [f"| `{s.name}` | {s.unit} | {s.description} |" for s in spec.states]
        lines.append(f"\n### Inputs ({len(spec.inputs)})\n")
        lines.append("| input | unit | meaning |\n|---|---|---|")
        lines += [f"| `{u.name}` | {u.unit} | {u.description} |" for u in spec.inputs]
        lines.append("\n### Equations\n")
        for s, rate in zip(spec.states, spec.rates, strict=True):
            lines.append(f"`{s.name}` [{s.unit}]\n")
            lines.append(
                "$$\\frac{d\\," + _sym(s.name) + "}{dt} = " + _latex(rate.xreplace(names)) + "$$\n"
            )
        lines.append("### Observables\n")
        lines.append("| observable | unit | meaning | expression |\n|---|---|---|---|")
        for o in spec.observables:
            expr = _latex(o.expression.xreplace(names)).replace("|", r"\vert ")
            lines.append(f"| `{o.name}` | {o.unit} | {o.description} | ${expr}$ |")
        lines.append("")
    lines.append("## Parameters by preset\n")
    notes = identifiability_notes()
    for name in PRESET_NAMES:
        preset = get_preset(name)
        lines.append(f"### `{name}` — {preset.description}\n")
        if preset.variability_cv and preset.variability_sources:
            lines.append("Between-subject variability (log-normal, median at the value):\n")
            lines.append("| parameter | CV | provenance |\n|---|---|---|")
            for k, v in preset.variability_cv.items():
                why = preset.variability_sources.get(k, "assumption").replace("|", "/")
                lines.append(f"| `{k}` | {v:.0%} | {why} |")
            lines.append("")
        elif preset.variability_cv:
            cvs = ", ".join(f"`{k}` {v:.0%}" for k, v in preset.variability_cv.items())
            lines.append(
                "Between-subject variability (log-normal, median at the value; CV): "
                f"{cvs} — assumption: spreads chosen to give realistic heterogeneity.\n"
            )
        if preset.subgroups:
            lines.append("Subgroups (a share of subjects has the value × factor):\n")
            lines.append("| parameter | share | factor | provenance |\n|---|---|---|---|")
            for k, g in preset.subgroups.items():
                why = g.source.replace("|", "/")
                lines.append(f"| `{k}` | {g.share:.1%} | {g.factor:g} | {why} |")
            lines.append("")
        lines.append("| parameter | unit | value | meaning | provenance |\n|---|---|---|---|---|")
        human = preset.species == "human"
        for prm in preset.model.parameters:
            pv = preset.values[prm.name]
            prov = _provenance_text(pv.provenance, notes.get(prm.name, "") if human else "")
            lines.append(
                f"| `{prm.name}` | {prm.unit} | {pv.value:.6g} | {prm.description} | {prov} |"
            )
        process = [k for k in PROCESS_PARAMETERS if k in preset.values]
        if process:
            lines.append("\nProcess parameters of virtual trials (not in the equations):\n")
            lines.append("| parameter | unit | value | provenance |\n|---|---|---|---|")
            for k in process:
                pv = preset.values[k]
                lines.append(
                    f"| `{k}` | {PROCESS_PARAMETERS[k]} | {pv.value:.6g} | "
                    f"{_provenance_text(pv.provenance, notes.get(k, ''))} |"
                )
        lines.append("")
    lines.append(_OPERATIONAL)
    fit = render_calibration_markdown()
    if fit:
        lines.append("\n" + fit)
    return "\n".join(lines)
