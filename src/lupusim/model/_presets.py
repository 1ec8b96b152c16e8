"""Species presets: parameter values with units and provenance, and initial states.

Presets (../shared/DESIGN.md): ``mrl_lpr`` (female MRL/lpr mouse, MSC-impaired),
``healthy_strain`` (C3H/HeJ-like control with healthy MSC), ``mrl_lpr_msc_restored``
(MRL/lpr whose MSC function is normal from birth) and ``human`` (adult with lupus
nephritis). Values marked *calibrated* are overwritten by
``data/calibration.json`` — the output of ``scripts/calibrate_sun2009.py`` — when it
exists; the numbers here are then only the optimiser's starting point.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from lupusim.model._provenance import (
    Assumption,
    Calibrated,
    Citation,
    ParameterValue,
    Provenance,
)
from lupusim.model._sle import Species, build_model
from lupusim.model._spec import ModelSpec

LN2 = math.log(2.0)


def _a(value: float, why: str) -> ParameterValue:
    return ParameterValue(value, Assumption(why))


def _c(value: float, source: str, tag: str = "V", note: str = "") -> ParameterValue:
    return ParameterValue(value, Citation(source, tag, note))


#: Targets of the calibration problems (lupusim.studies.sun2009._calibration) whose free
#: parameters are fitted jointly: each such parameter names every residual of its problem.
_SOC_TARGETS = ("S1", "S2", "S3", "S4", "S5", "S6")
_MSC_TARGETS = (
    *("H1", "H2", "H3", "H4", "H5", "H6", "H7", "H8", "H9", "H10"),
    *("H11", "H12", "H13", "H14", "H15", "H16", "H17", "H19", "H20", "H21", "H22"),
    *("H24", "H26"),
)


def _f(value: float, *targets: str) -> ParameterValue:
    return ParameterValue(value, Calibrated(tuple(targets)))


# Parameters whose values are shared by both species.
_COMMON: dict[str, ParameterValue] = {
    "k_donor_msc_clearance": _c(
        LN2 / 1.0, "Lee 2009 Cell Stem Cell 5:54 (target M14)", "V", "t½ 24 h → ln2/1 day"
    ),
    "donor_msc_half_effect": _a(
        1.0e6, "half-maximal effect at the clinical dose of 1e6 cells/kg (Liang 2010 dose)"
    ),
    "k_tgfb_decay": _a(LN2 / 7.0, "TGF-β-producing macrophage state persists ~1 week"),
    "treg_msc_support": _a(0.5, "half of Treg support depends on host MSC (Sun 2009 direction)"),
    "b_suppression_tgfb": _a(
        3.0, "TGF-β1-induced IL-10+ Breg restrain autoreactive B cells (PMC8466915 direction)"
    ),
    "treg_tgfb_gain": _a(1.0, "Treg doubles at unit TGF-β signal (Akiyama 2012 direction)"),
    "treg_inflammation_loss": _a(0.3, "inflammation lowers Treg modestly"),
    "th17_inflammation_gain": _a(1.0, "Th17 doubles at unit inflammation"),
    "k_msc_t_apoptosis": _a(1.0, "MSC-induced T-cell apoptosis ~1/day at saturation"),
    "msc_restraint": _a(1.0, "MSC and Treg restrain activation equally"),
    "treg_restraint": _a(1.0, "MSC and Treg restrain activation equally"),
    "b_help_half": _a(0.6, "half-maximal activation between healthy and active help"),
    "b_help_th17": _a(0.15, "Th17 help in health well below half-maximal activation"),
    "b_help_ic": _a(1.0, "immune-complex (TLR9) help of unit weight"),
    "anti_dsdna_healthy": _a(5.0, "below any assay's upper limit of normal"),
    "anti_dsdna_fraction": _a(
        1.0, "typical subject: the autoantibody response read as anti-dsDNA (varies in humans)"
    ),
    "anti_dsdna_max": _a(400.0, "anti-dsDNA at full autoreactive burden, IU/mL scale"),
    "anti_dsdna_reference": _a(400.0, "normalises immune-complex formation to anti_dsdna_max"),
    "k_ic_formation": _a(1.0, "immune complexes form and clear within about a day"),
    "k_ic_clearance": _a(1.0, "immune complexes form and clear within about a day"),
    "ic_clearance_c3_independent": _a(0.5, "half of IC clearance independent of C3"),
    "k_c3_synthesis": _a(0.5, "C3 turnover ~1-2 days"),
    "k_c3_consumption": _a(1.0, "C3 about halved in active disease"),
    "k_c4_synthesis": _a(0.5, "C4 turnover ~1-2 days"),
    "k_c4_consumption": _a(1.2, "C4 consumed slightly more than C3 (classical pathway)"),
    "k_inflammation": _a(0.5, "inflammatory mediators turn over in ~1-2 days"),
    "inflammation_from_ic": _a(1.0, "inflammation normalised to immune complexes"),
    "inflammation_from_th17": _a(0.2, "IL-17 contributes a minority of inflammation"),
    "inflammation_from_kidney": _a(0.3, "renal injury feeds systemic inflammation"),
    "inflammation_max": _a(2.0, "mediators saturate at twice the active-disease level"),
    "k_renal_deposition": _a(0.05, "deposits equilibrate with circulating IC in ~2 weeks"),
    "k_renal_deposit_clearance": _a(0.05, "deposits equilibrate with circulating IC in ~2 weeks"),
    "skin_from_inflammation": _a(0.8, "skin activity at unit inflammation"),
    "k_skin": _a(0.1, "rash follows inflammation within ~1 week"),
    "joint_from_inflammation": _a(0.8, "joint activity at unit inflammation"),
    "k_joint": _a(0.1, "arthritis follows inflammation within ~1 week"),
    "cns_from_inflammation": _a(0.15, "neuropsychiatric lupus is uncommon"),
    "k_cns": _a(0.05, "CNS activity follows inflammation within weeks"),
    "lymphoproliferation": _a(0.0, "no lymphoproliferation unless the strain has it"),
    "lymphopenia_from_antibody": _a(0.6, "SLE lymphopenia from anti-lymphocyte antibodies"),
    "thrombocytopenia_from_antibody": _a(0.4, "immune thrombocytopenia in active SLE"),
    "k_lymphocyte": _a(0.1, "lymphocyte pool turns over in ~1 week"),
    "k_neutrophil": _a(0.3, "neutrophil precursors transit in ~3 days"),
    "k_platelet": _a(0.1, "platelet lifespan ~10 days"),
    "bone_resorption_from_inflammation": _a(
        0.5, "osteoclastic resorption rises with inflammation (Ma 2015 direction)"
    ),
    "bone_resorption_from_glucocorticoid": _a(0.3, "glucocorticoid-induced bone loss"),
    "k_cyclophosphamide_effect_decay": _a(
        LN2 / 2.0, "cytotoxic effect of a pulse lasts days (metabolite t½ hours)"
    ),
    "k_flare_drive_decay": _a(
        LN2 / 14.0, "an extrinsic trigger (infection, UV, missed doses) lasts about 2 weeks"
    ),
    "cyclophosphamide_b_kill": _a(0.1, "about a quarter of autoreactive B cells per pulse"),
    "cyclophosphamide_t_kill": _a(0.1, "T cells, Treg included, killed as B cells"),
    "cyclophosphamide_lymphocyte_kill": _a(0.25, "lymphocyte nadir ~50% after a pulse"),
    "cyclophosphamide_neutrophil_kill": _a(0.25, "neutrophil nadir ~50% after a pulse"),
    "cyclophosphamide_platelet_kill": _a(0.05, "platelets little affected at these doses"),
    "k_glucocorticoid_effect": _a(LN2 / 0.5, "oral prednisone acts within hours"),
    "glucocorticoid_half_effect": _a(10.0, "half-maximal effect at 10 mg/day prednisone"),
    "glucocorticoid_anti_inflammatory": _a(0.8, "high-dose GC cut inflammation ~1.8-fold"),
    "glucocorticoid_renal_protection": _a(
        0.8, "direct GC suppression of renal injury as of inflammation (same receptor)"
    ),
    "glucocorticoid_lymphopenia": _a(0.5, "GC lower lymphocytes by up to a third"),
    "glucocorticoid_neutrophilia": _a(0.5, "GC raise neutrophils by up to half"),
    "k_antimetabolite_effect": _a(LN2 / 3.0, "MMF/AZA effect builds over days"),
    "mycophenolate_full_dose": _c(2.6, "ACCESS/ALMS delivered MMF median 2.6 g/day", "V"),
    "mpa_auc_per_g_day": _a(
        20.0,
        "MPA AUC0-12 ~40 mg·h/L at 2 g/day in Western LN adults: 61.8 % below 30 at ~1.5 g/day "
        "(Ther Drug Monit 2014;36:423), means 27-47 at clinical doses (Zahr 2010 Arthritis "
        "Rheum 62:2047); no direct source for the per-gram value",
    ),
    "mpa_exposure": _a(1.0, "typical patient; varies between subjects (variability_cv)"),
    "mpa_auc_half_effect": _a(
        30.0,
        "no published EC50: response thresholds 30-45 mg·h/L and a plateau above ~55 "
        "(Ther Drug Monit 2015;37:711; Int Immunopharmacol 2023 childhood LN) fit an Emax "
        "with EC50 ~30",
    ),
    "oral_adherence": _a(
        1.0, "prescribed oral MMF/AZA taken; a share of subjects is non-adherent (variability)"
    ),
    "azathioprine_full_dose": _c(2.0, "Euro-Lupus maintenance AZA 2 mg/kg/day", "V"),
    "antimetabolite_b_kill": _a(0.01, "antimetabolites slow B-cell expansion"),
    "antimetabolite_t_kill": _a(0.02, "antimetabolites slow T-cell expansion"),
    "antimetabolite_lymphocyte_kill": _a(0.01, "mild lymphopenia on MMF/AZA"),
    "gfr_loss_activity_max": _a(0.4, "active nephritis reversibly lowers GFR up to 40%"),
    "gfr_loss_activity_half": _a(0.5, "half of reversible GFR loss at half-maximal activity"),
    "infection_hr_glucocorticoid": _c(1.51, "Feldman 2015 Arthritis Rheumatol 67:1577 (S8)"),
    "infection_hr_immunosuppressant": _c(1.11, "Feldman 2015 Arthritis Rheumatol 67:1577"),
    "infection_hr_hydroxychloroquine": _c(0.73, "Feldman 2015 Arthritis Rheumatol 67:1577"),
    "infection_hr_lymphopenia": _c(
        2.15,
        "Wang 2022 Lupus Sci Med 9:e000725",
        "I",
        "3 risk factors took risk from 3-5% to 37-39%: ~10-fold, ~2.15 each",
    ),
    "infection_hr_renal_activity": _c(
        2.15, "Wang 2022 Lupus Sci Med 9:e000725", "I", "as for lymphopenia, per unit activity"
    ),
    "infection_hr_neutropenia": _a(3.0, "neutropenia < 1e9/L triples serious-infection risk"),
    "urine_rbc_max_per_hpf": _a(20.0, "haematuria (>5/HPF) from moderate renal activity (~0.3)"),
    "urine_wbc_max_per_hpf": _a(10.0, "sterile pyuria (>5/HPF) only in severe activity (~0.8)"),
}

_MOUSE: dict[str, ParameterValue] = {
    "female": _c(1.0, "Sun 2009: female MRL/lpr"),
    "age_at_start_years": _c(4 / 52.18, "simulation starts at 4 weeks of age (issue 2)"),
    "body_weight_kg": _a(0.03, "adult female MRL/lpr ~30 g"),
    "msc_intrinsic_function": _a(0.5, "MRL/lpr BMMSC impaired (Sun 2009 direction) to half"),
    "k_msc_recovery": _a(0.01, "host MSC pool renews over ~2-3 months"),
    "k_msc_il17_damage": _a(0.002, "IL-17 damages recipient BMMSC (Ma 2015 direction)"),
    "k_msc_niche_repair": _a(1.8, "one infusion repairs most of the niche (Sun 2009 direction)"),
    "k_tgfb_induction": _a(1.5, "TGF-β signal of order 1 after one infusion"),
    "k_treg_turnover": _a(0.1, "Treg pool turns over in ~1 week"),
    "treg_healthy_pct": _a(10.0, "mouse CD4+CD25+Foxp3+ ~10% of CD4"),
    "k_th17_turnover": _a(0.2, "Th17 pool turns over in days"),
    "th17_healthy_pct": _a(1.0, "mouse Th17 ~1% of CD4"),
    "b_genetic_drive": _f(0.006, "M3", "M6"),
    "b_activation_max": _f(0.12, "M3", "M5", "M6"),
    "k_b_loss": _a(0.05, "mouse plasmablasts/short-lived plasma cells t½ ~2 weeks"),
    "k_antibody_turnover": _c(LN2 / 6.0, "mouse IgG half-life ~6 days", "M"),
    "c3_normal": _a(0.8, "mouse serum C3 ~0.5-1 g/L"),
    "c4_normal": _a(0.2, "mouse serum C4 scale"),
    "k_renal_injury": _f(0.1, "M4", "M5"),
    "k_renal_resolution": _a(0.05, "mouse glomerular inflammation resolves over ~2 weeks"),
    "k_renal_fibrosis": _f(0.01, "M1", "M2"),
    "lymphoproliferation": _a(1.5, "lpr lymphoproliferation by 16-18 weeks (JAX 000485)"),
    "lymphocytes_normal": _a(5.0, "mouse lymphocytes ~5e9/L"),
    "neutrophils_normal": _a(1.5, "mouse neutrophils ~1.5e9/L"),
    "monocytes_other_wbc": _a(0.5, "mouse monocytes and others ~0.5e9/L"),
    "platelets_normal": _a(900.0, "mouse platelets ~900e9/L"),
    "k_bone_remodelling": _a(0.03, "mouse trabecular remodelling over weeks (Ma 2015: 4 weeks)"),
    "bone_bv_tv_normal": _a(15.0, "mouse femoral trabecular BV/TV ~15%"),
    "gfr_normal": _a(100.0, "mouse GFR expressed as % of normal"),
    "hazard_death_background": _a(5e-5, "MRL/+/+ live ~16-18 months (textbook table)"),
    "hazard_death_kidney": _f(0.3, "M1", "M2"),
    "gfr_fraction_death_half": _a(0.4, "mice die of uraemia before complete loss of function"),
    "infection_case_fatality": _a(0.5, "specific-pathogen-free mice rarely get infections"),
    "hazard_infection_baseline": _a(1e-5, "specific-pathogen-free housing"),
    "urine_acr_normal": _a(30.0, "healthy mouse urine ACR tens of mg/g"),
    "urine_acr_per_renal_activity": _f(1500.0, "M5"),
    "urine_acr_per_chronic_damage": _a(1000.0, "scarred glomeruli leak albumin"),
    "creatinine_normal": _a(0.25, "mouse serum creatinine ~0.2-0.3 mg/dL (enzymatic)"),
}

_HUMAN: dict[str, ParameterValue] = {
    "female": _a(1.0, "default subject female (9:1 in SLE); set per subject"),
    "age_at_start_years": _a(30.0, "default adult; set per subject"),
    "body_weight_kg": _a(60.0, "default adult; set per subject"),
    "msc_intrinsic_function": _a(0.5, "SLE patients' BMMSC defective (Carrión 2010, Sun 2009)"),
    "k_msc_recovery": _f(LN2 / 365.0, *_MSC_TARGETS),
    "k_msc_il17_damage": _a(0.0001, "IL-17 damages recipient BMMSC (Ma 2015 direction)"),
    "k_msc_niche_repair": _f(1.8, *_MSC_TARGETS),
    "k_tgfb_induction": _f(1.5, *_MSC_TARGETS),
    "k_tgfb_decay": _f(LN2 / 7.0, *_MSC_TARGETS),
    "msc_restraint": _f(1.0, *_MSC_TARGETS),
    "b_suppression_tgfb": _f(3.0, *_MSC_TARGETS),
    "k_treg_turnover": _a(0.05, "human Treg pool turns over in ~2 weeks"),
    "treg_healthy_pct": _a(8.0, "human CD4+CD25+Foxp3+ ~5-10% of CD4"),
    "k_th17_turnover": _a(0.1, "human Th17 pool turns over in ~1 week"),
    "th17_healthy_pct": _a(1.0, "human Th17 ~1% of CD4"),
    "b_genetic_drive": _a(0.004, "constitutive autoreactive drive; wide between patients"),
    "b_activation_max": _f(0.04, *_SOC_TARGETS),
    "k_b_loss": _a(0.02, "autoreactive plasma cells t½ ~5 weeks"),
    "k_antibody_turnover": _c(LN2 / 21.0, "human IgG half-life ~21 days", "M"),
    "c3_normal": _a(1.2, "human C3 reference 0.9-1.8 g/L"),
    "c4_normal": _a(0.25, "human C4 reference 0.1-0.4 g/L"),
    "k_renal_injury": _f(0.06, *_SOC_TARGETS),
    "k_renal_resolution": _f(0.03, *_SOC_TARGETS),
    "k_renal_fibrosis": _a(1.6e-4, "~30% nephron loss after 5 years of active nephritis"),
    "lymphocytes_normal": _a(2.0, "adult lymphocytes ~2e9/L"),
    "neutrophils_normal": _a(4.0, "adult neutrophils ~4e9/L"),
    "monocytes_other_wbc": _a(0.6, "adult monocytes and others ~0.6e9/L"),
    "platelets_normal": _a(250.0, "adult platelets ~250e9/L"),
    "k_bone_remodelling": _a(0.005, "human trabecular remodelling over months"),
    "bone_bv_tv_normal": _a(20.0, "adult trabecular BV/TV ~20%"),
    "gfr_normal": _a(110.0, "young adult GFR; set per subject"),
    "hazard_death_background": _a(3e-6, "young-adult background mortality ~0.1%/year"),
    "hazard_death_kidney": _a(
        5.5e-4, "end-stage kidney disease mortality ~20 %/year (dialysis era)"
    ),
    "gfr_fraction_death_half": _a(0.14, "end-stage kidney disease at GFR ~15 mL/min/1.73m²"),
    "infection_case_fatality": _f(0.05, "S9"),
    "hazard_infection_baseline": _f(1.1e-4, "S7"),
    "upcr_normal": _a(0.1, "healthy UPCR < 0.15 g/g"),
    "upcr_per_renal_activity": _f(3.0, *_SOC_TARGETS),
    "upcr_per_chronic_damage": _a(1.0, "fixed proteinuria from scarred glomeruli"),
    "creatinine_excretion_g_day": _a(
        1.0, "adult urinary creatinine ~1 g/day (24-h protein ≈ UPCR)"
    ),
    "albumin_normal": _a(42.0, "adult serum albumin ~42 g/L"),
    "albumin_loss_max": _a(0.5, "nephrotic albumin can halve"),
    "albumin_loss_half_upcr": _a(3.5, "nephrotic range UPCR ≥ 3.5 g/g"),
}

#: Process parameters that are not in the ODE: the background flare-trigger process of
#: virtual trials (lupusim.treatments.poisson_flare_triggers), human only.
_HUMAN_PROCESS: dict[str, ParameterValue] = {
    "flare_trigger_rate_per_year": _a(
        0.5, "extrinsic inflammatory bursts (infection, UV, non-adherence); no direct source"
    ),
    "flare_trigger_mean_magnitude": _a(
        0.05,
        "burst of B-cell activation of the order of b_activation_max; no direct source",
    ),
}
PROCESS_PARAMETERS: dict[str, str] = {
    "flare_trigger_rate_per_year": "1/year",
    "flare_trigger_mean_magnitude": "1/day",
}


@dataclass(frozen=True)
class Subgroup:
    """A share of subjects whose value of a parameter is ``factor`` × the preset value
    (after log-normal variability), e.g. class V nephritis or severe non-adherence."""

    share: float
    factor: float
    source: str

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0 or self.factor < 0.0:
            raise ValueError("subgroup share must be in [0, 1] and factor non-negative")


@dataclass(frozen=True)
class Preset:
    """A named parameterisation of the SLE model for one species and strain.

    Between subjects, each parameter of ``variability_cv`` is log-normal with median at
    its value (``variability_sources`` gives each spread's provenance) and each of
    ``subgroups`` is multiplied by its factor in a random share of subjects.
    """

    name: str
    species: Species
    description: str
    values: Mapping[str, ParameterValue]
    variability_cv: Mapping[str, float] = field(default_factory=dict)
    initial_autoreactive_b: float = 0.0
    variability_sources: Mapping[str, str] = field(default_factory=dict)
    subgroups: Mapping[str, Subgroup] = field(default_factory=dict)

    @property
    def model(self) -> ModelSpec:
        return build_model(self.species)

    def parameter_vector(self) -> np.ndarray:
        """Values in the order of ``model.parameters``."""
        return np.array([self.values[n].value for n in self.model.parameter_names], dtype=float)

    def with_values(self, name: str, description: str, **overrides: ParameterValue) -> Preset:
        unknown = set(overrides) - set(self.values)
        if unknown:
            raise KeyError(f"unknown parameters {sorted(unknown)}")
        return replace(
            self, name=name, description=description, values={**self.values, **overrides}
        )

    def with_numbers(self, values: Mapping[str, float]) -> Preset:
        """The same preset with some parameters set to new numbers (provenance kept), e.g.
        one parameter set of a posterior ensemble."""
        unknown = set(values) - set(self.values)
        if unknown:
            raise KeyError(f"unknown parameters {sorted(unknown)}")
        overrides = {
            k: ParameterValue(float(v), self.values[k].provenance) for k, v in values.items()
        }
        return replace(self, values={**self.values, **overrides})

    def initial_state(self, parameters: np.ndarray | None = None) -> np.ndarray:
        """Disease-free initial state for ``parameters`` (default: the preset's).

        Every organ healthy, complement and blood counts normal, host MSC at intrinsic
        capacity, autoreactive B cells at ``initial_autoreactive_b``.
        """
        model = self.model
        p = dict(
            zip(
                model.parameter_names,
                self.parameter_vector() if parameters is None else parameters,
                strict=True,
            )
        )
        b0 = self.initial_autoreactive_b
        a0 = p["anti_dsdna_healthy"] + p["anti_dsdna_max"] * b0
        h0 = p["msc_intrinsic_function"]
        values = {
            "host_msc_function": h0,
            "treg": p["treg_healthy_pct"] * (1 - p["treg_msc_support"] * (1 - h0)),
            "th17": p["th17_healthy_pct"],
            "autoreactive_b": b0,
            "anti_dsdna": a0,
            "immune_complexes": p["k_ic_formation"]
            * a0
            / p["anti_dsdna_reference"]
            / (p["k_ic_clearance"] * (p["ic_clearance_c3_independent"] + 1.0)),
            "c3": p["c3_normal"],
            "c4": p["c4_normal"],
            "lymphocytes": p["lymphocytes_normal"] * (1 + p["lymphoproliferation"] * b0),
            "neutrophils": p["neutrophils_normal"],
            "platelets": p["platelets_normal"],
            "bone_bv_tv": p["bone_bv_tv_normal"] * h0,
        }
        y0 = np.zeros(len(model.states))
        for name, value in values.items():
            y0[model.state_index(name)] = value
        return y0


#: Written by ``lupusim calibrate human --install`` (lupusim.calibrate); its values
#: override those of calibration.json for the human preset.
HUMAN_CALIBRATION_FILE = "data/calibration_human.json"


#: Written by ``lupusim calibrate posterior --install``: the Laplace posterior around the
#: installed human fit (identifiability labels and a parameter ensemble).
HUMAN_POSTERIOR_FILE = "data/posterior_human.json"


def installed_human_posterior() -> dict[str, Any] | None:
    """What ``lupusim calibrate posterior --install`` wrote (None when nothing is)."""
    ref = resources.files("lupusim.model").joinpath(HUMAN_POSTERIOR_FILE)
    return json.loads(ref.read_text()) if ref.is_file() else None


def installed_human_calibration() -> dict[str, Any] | None:
    """What ``lupusim calibrate human --install`` wrote (None when nothing is installed)."""
    ref = resources.files("lupusim.model").joinpath(HUMAN_CALIBRATION_FILE)
    return json.loads(ref.read_text()) if ref.is_file() else None


def _calibration_overrides() -> dict[str, dict[str, float]]:
    """Fitted values of calibration.json (scripts/calibrate_sun2009.py), by preset."""
    path = resources.files("lupusim.model").joinpath("data/calibration.json")
    if not path.is_file():
        return {}
    payload = json.loads(path.read_text())
    return {k: {n: float(v) for n, v in d["values"].items()} for k, d in payload["presets"].items()}


def _apply_calibration(name: str, values: dict[str, ParameterValue]) -> dict[str, ParameterValue]:
    if os.environ.get("LUPUSIM_IGNORE_CALIBRATION"):
        return dict(values)
    out = dict(values)
    for pname, value in _calibration_overrides().get(name, {}).items():
        prov: Provenance = out[pname].provenance
        if not isinstance(prov, Calibrated):
            raise ValueError(f"calibration.json sets {pname}, which is not marked calibrated")
        out[pname] = ParameterValue(value, prov)
    human = installed_human_calibration() if name == "human" else None
    if human is not None:
        # Overrides calibration.json; the provenance is the rows the installed fit used.
        fitted = Calibrated(tuple(human["targets"]), "lupusim calibrate human")
        for pname, value in human["values"].items():
            out[pname] = ParameterValue(float(value), fitted)
    return out


#: Human between-subject variability: parameter → (CV of the log-normal, provenance).
_HUMAN_VARIABILITY: dict[str, tuple[float, str]] = {
    "b_activation_max": (0.15, "assumption: disease intensity varies between patients"),
    "b_genetic_drive": (1.0, "assumption: constitutive autoreactivity varies widely"),
    "k_renal_injury": (0.25, "assumption: renal susceptibility varies"),
    "msc_intrinsic_function": (0.2, "assumption: BMMSC impairment varies (Sun 2009 ranges)"),
    "k_msc_recovery": (0.5, "assumption: duration of MSC benefit varies"),
    "upcr_per_renal_activity": (0.3, "assumption: proteinuria per unit activity varies"),
    "mpa_exposure": (
        0.379,
        "between-patient CV of dose-normalised MPA AUC 37.9 % at entry in proliferative LN "
        "(Ther Drug Monit 2014;36:423)",
    ),
    "k_renal_fibrosis": (
        0.8,
        "assumption: chronic damage at entry varies as the NIH chronicity index (mean 3.0, "
        "SD 2.5 in active class III/IV LN; PMC3674621 Table 1): CV ~0.8",
    ),
    "urine_rbc_max_per_hpf": (
        1.0,
        "assumption: haematuria at equal activity varies widely between patients",
    ),
    "urine_wbc_max_per_hpf": (
        1.0,
        "assumption: pyuria at equal activity varies widely between patients",
    ),
    "skin_from_inflammation": (1.0, "assumption: mucocutaneous involvement varies"),
    "joint_from_inflammation": (1.0, "assumption: musculoskeletal involvement varies"),
    "gfr_normal": (0.15, "assumption: healthy adult GFR varies about ±15 % between people"),
    "anti_dsdna_fraction": (
        1.0,
        "assumption: anti-dsDNA titres at equal disease span orders of magnitude",
    ),
    "k_c3_consumption": (0.8, "assumption: complement consumption varies between patients"),
    "c3_normal": (0.2, "human C3 reference range 0.9-1.8 g/L: CV ~20 % (assumption)"),
}

#: Human subgroups (share of subjects, factor on the parameter, provenance).
_HUMAN_SUBGROUPS: dict[str, Subgroup] = {
    "k_renal_resolution": Subgroup(
        0.16,
        0.4,
        "pure class V (membranous) LN: 16 % of BLISS-LN (Front Immunol 2022;13:999704 "
        "Table 2); proteinuria resolves 2-3x more slowly (median 9 months to complete "
        "response, Front Med 2022;9:809533, vs ~100-110 days proliferative, Ther Drug "
        "Monit 2014;36:423): factor 0.4 is an assumption within that range",
    ),
    "oral_adherence": Subgroup(
        0.073,
        0.1,
        "severe non-adherence in 7.3 % of the SLICC inception cohort by drug levels "
        "(Arthritis Rheumatol 2023;75:2195); assumption: they take ~10 % of doses",
    ),
}


@cache
def get_preset(name: str) -> Preset:
    """Return a named preset: mrl_lpr, healthy_strain, mrl_lpr_msc_restored, human."""
    if name in ("mrl_lpr", "healthy_strain", "mrl_lpr_msc_restored"):
        base = Preset(
            name="mrl_lpr",
            species="mouse",
            description="Female MRL/lpr mouse (MSC-impaired), from 4 weeks of age.",
            values=_apply_calibration("mrl_lpr", {**_COMMON, **_MOUSE}),
            # Wide kidney variability: JAX urine ACR at 18 weeks spans 1-22,806 mg/g (M5).
            variability_cv={
                "b_genetic_drive": 0.5,
                "b_activation_max": 0.15,
                "k_renal_injury": 1.0,
                "hazard_death_kidney": 0.3,
            },
            initial_autoreactive_b=0.005,
        )
        if name == "mrl_lpr":
            return base
        if name == "healthy_strain":
            return base.with_values(
                "healthy_strain",
                "C3H/HeJ-like control: healthy MSC, no lpr drive (Sun 2009 controls).",
                msc_intrinsic_function=_c(1.0, "Sun 2009: healthy C3H/HeJ BMMSC", "P"),
                b_genetic_drive=_a(0.0, "no Fas (lpr) defect"),
                lymphoproliferation=_a(0.0, "no lpr lymphoproliferation"),
                k_msc_il17_damage=_a(0.002, "same IL-17 sensitivity as MRL/lpr MSC"),
            )
        return base.with_values(
            "mrl_lpr_msc_restored",
            "MRL/lpr whose host MSC function is normal from birth (Sun 2009 claim).",
            msc_intrinsic_function=_a(1.0, "counterfactual: MSC impairment removed"),
        )
    if name == "human":
        return Preset(
            name="human",
            species="human",
            description="Adult with lupus nephritis.",
            values=_apply_calibration("human", {**_COMMON, **_HUMAN, **_HUMAN_PROCESS}),
            variability_cv={k: cv for k, (cv, _) in _HUMAN_VARIABILITY.items()},
            variability_sources={k: why for k, (_, why) in _HUMAN_VARIABILITY.items()},
            subgroups=_HUMAN_SUBGROUPS,
            initial_autoreactive_b=0.01,
        )
    raise KeyError(
        f"unknown preset {name!r}; known: mrl_lpr, healthy_strain, mrl_lpr_msc_restored, human"
    )


PRESET_NAMES = ("mrl_lpr", "healthy_strain", "mrl_lpr_msc_restored", "human")
