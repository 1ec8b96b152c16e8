"""The visit-table schema and the configuration knobs of the clinical instruments.

The visit table is the contract of ../shared/DESIGN.md ("Visit table"): one row per
subject and visit, observable names carry their unit. This module names every column
the instruments read and their types (their ranges are in :mod:`lupusim.clinical._ranges`),
the 24 SLEDAI descriptors with their weights (Bombardier 1992; Gladman 2002), the nine
BILAG-2004 systems (Isenberg/Yee) and the pydantic model of the configuration knobs of
SPEC §10.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# ---------------------------------------------------------------------------------
# Identifiers and time
# ---------------------------------------------------------------------------------

SUBJECT = "subject_id"
VISIT = "visit"
VISIT_DATE = "visit_date"
STUDY_DAY = "study_day"
BASELINE = "baseline"

REQUIRED_COLUMNS: tuple[str, ...] = (SUBJECT, VISIT)
TIME_COLUMNS: tuple[str, ...] = (VISIT_DATE, STUDY_DAY)

# ---------------------------------------------------------------------------------
# Numeric columns (canonical units). Their possible and plausible ranges, with sources,
# are the one range table of lupusim.clinical._ranges.
# ---------------------------------------------------------------------------------

_NUMERIC_LABS: tuple[str, ...] = (
    "age_years",
    "weight_kg",
    "height_cm",
    "upcr_g_per_g",
    "protein_24h_g",
    "creatinine_mg_dl",
    "cystatin_c_mg_l",
    "egfr_ml_min_1_73m2",
    "egfr_preflare_ml_min_1_73m2",
    "albumin_g_l",
    "c3_g_l",
    "c4_g_l",
    "c3_lln_g_l",
    "c4_lln_g_l",
    "anti_dsdna_iu_ml",
    "anti_dsdna_uln_iu_ml",
    "anti_dsdna_farr_pct",
    "platelets_1e9_l",
    "wbc_1e9_l",
    "lymphocytes_1e9_l",
    "haemoglobin_g_dl",
    "urine_rbc_per_hpf",
    "urine_wbc_per_hpf",
    "temperature_c",
    "prednisone_mg_day",
    "pga",
    "arthritis_joints",
)

# SLICC/ACR Damage Index items (Gladman 1996; SPEC §4.1): column -> maximum points.
# Values are points (0, 1 or 2 where "score 2 if >1"); booleans read as 0/1.
SDI_ITEMS: dict[str, int] = {
    "sdi_cataract": 1,
    "sdi_retinal_optic_atrophy": 1,
    "sdi_cognitive_impairment": 1,
    "sdi_seizures": 1,
    "sdi_cva": 2,
    "sdi_neuropathy": 1,
    "sdi_transverse_myelitis": 1,
    "sdi_gfr_below_50": 1,
    "sdi_proteinuria_3_5g": 1,
    "sdi_esrd": 3,
    "sdi_pulmonary_hypertension": 1,
    "sdi_pulmonary_fibrosis": 1,
    "sdi_shrinking_lung": 1,
    "sdi_pleural_fibrosis": 1,
    "sdi_pulmonary_infarction": 1,
    "sdi_angina_or_cabg": 1,
    "sdi_myocardial_infarction": 2,
    "sdi_cardiomyopathy": 1,
    "sdi_valvular_disease": 1,
    "sdi_pericarditis_6m": 1,
    "sdi_claudication": 1,
    "sdi_minor_tissue_loss": 1,
    "sdi_significant_tissue_loss": 2,
    "sdi_venous_thrombosis": 1,
    "sdi_gi_infarction_resection": 2,
    "sdi_mesenteric_insufficiency": 1,
    "sdi_chronic_peritonitis": 1,
    "sdi_stricture_upper_gi_surgery": 1,
    "sdi_pancreatic_insufficiency": 1,
    "sdi_muscle_atrophy": 1,
    "sdi_deforming_arthritis": 1,
    "sdi_osteoporosis_fracture": 1,
    "sdi_avascular_necrosis": 2,
    "sdi_osteomyelitis": 1,
    "sdi_ruptured_tendon": 1,
    "sdi_scarring_alopecia": 1,
    "sdi_extensive_scarring": 1,
    "sdi_skin_ulceration": 1,
    "sdi_premature_gonadal_failure": 1,
    "sdi_diabetes": 1,
    "sdi_malignancy": 2,
}
#: Every numeric column of the visit table (study_day aside), canonical units.
NUMERIC_COLUMNS: tuple[str, ...] = (*_NUMERIC_LABS, *SDI_ITEMS, "sdi")

INTEGER_COLUMNS: frozenset[str] = frozenset({STUDY_DAY, "arthritis_joints"})

# Alternative units, accepted only through an explicit column name (DESIGN.md) and
# converted on load: alternative column -> (canonical column, factor or None for the
# mg/mmol convention, which the configuration decides).
ALTERNATIVE_UNITS: dict[str, tuple[str, float | None]] = {
    "creatinine_umol_l": ("creatinine_mg_dl", 1.0 / 88.4),  # SPEC §3.1
    "upcr_mg_per_mmol": ("upcr_g_per_g", None),  # SPEC §3.1, knob upcr_mgmmol_convention
    "upcr_mg_per_mg": ("upcr_g_per_g", 1.0),
    "protein_24h_mg": ("protein_24h_g", 1.0 / 1000.0),
    "c3_mg_dl": ("c3_g_l", 1.0 / 100.0),  # 1 g/L = 100 mg/dL
    "c4_mg_dl": ("c4_g_l", 1.0 / 100.0),
    "c3_lln_mg_dl": ("c3_lln_g_l", 1.0 / 100.0),
    "c4_lln_mg_dl": ("c4_lln_g_l", 1.0 / 100.0),
    "haemoglobin_g_l": ("haemoglobin_g_dl", 1.0 / 10.0),
    "platelets_1e3_ul": ("platelets_1e9_l", 1.0),  # 10^3/uL == 10^9/L
    "wbc_1e3_ul": ("wbc_1e9_l", 1.0),
    "cystatin_c_mg_dl": ("cystatin_c_mg_l", 10.0),
}

# Stems of quantities that carry a unit in their name: a column starting with one of
# these that is neither canonical nor an accepted alternative is an unknown unit.
UNIT_STEMS: tuple[str, ...] = (
    "upcr_",
    "protein_24h_",
    "creatinine_",
    "cystatin_c_",
    "egfr_",
    "albumin_",
    "c3_",
    "c4_",
    "anti_dsdna_",
    "platelets_",
    "wbc_",
    "lymphocytes_",
    "haemoglobin_",
    "temperature_",
    "weight_",
    "height_",
    "prednisone_",
)

# ---------------------------------------------------------------------------------
# SLEDAI descriptors (SPEC §1.2; Bombardier 1992, Gladman 2002)
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Descriptor:
    """One SLEDAI descriptor: position in §1.2, name, weight and organ domain."""

    number: int
    name: str
    weight: int
    domain: str


SLEDAI_DESCRIPTORS: tuple[Descriptor, ...] = (
    Descriptor(1, "seizure", 8, "cns"),
    Descriptor(2, "psychosis", 8, "cns"),
    Descriptor(3, "organic_brain_syndrome", 8, "cns"),
    Descriptor(4, "visual_disturbance", 8, "cns"),
    Descriptor(5, "cranial_nerve_disorder", 8, "cns"),
    Descriptor(6, "lupus_headache", 8, "cns"),
    Descriptor(7, "cva", 8, "cns"),
    Descriptor(8, "vasculitis", 8, "vascular"),
    Descriptor(9, "arthritis", 4, "musculoskeletal"),
    Descriptor(10, "myositis", 4, "musculoskeletal"),
    Descriptor(11, "urinary_casts", 4, "renal"),
    Descriptor(12, "haematuria", 4, "renal"),
    Descriptor(13, "proteinuria", 4, "renal"),
    Descriptor(14, "pyuria", 4, "renal"),
    Descriptor(15, "rash", 2, "mucocutaneous"),
    Descriptor(16, "alopecia", 2, "mucocutaneous"),
    Descriptor(17, "mucosal_ulcers", 2, "mucocutaneous"),
    Descriptor(18, "pleurisy", 2, "cardiopulmonary"),
    Descriptor(19, "pericarditis", 2, "cardiopulmonary"),
    Descriptor(20, "low_complement", 2, "immunological"),
    Descriptor(21, "increased_dna_binding", 2, "immunological"),
    Descriptor(22, "fever", 1, "constitutional"),
    Descriptor(23, "thrombocytopenia", 1, "haematological"),
    Descriptor(24, "leukopenia", 1, "haematological"),
)
DESCRIPTOR_NAMES: tuple[str, ...] = tuple(d.name for d in SLEDAI_DESCRIPTORS)
WEIGHTS: dict[str, int] = {d.name: d.weight for d in SLEDAI_DESCRIPTORS}
SEROLOGICAL: frozenset[str] = frozenset({"low_complement", "increased_dna_binding"})
# Descriptors that SLEDAI-1992 / SELENA score only when new or recurrent (SPEC §1.2).
NEW_OR_RECURRENT: frozenset[str] = frozenset({"rash", "alopecia", "mucosal_ulcers"})

# Boolean input columns that feed descriptors (DESIGN.md). `fever_sle` overrides
# temperature; the lab-derived descriptors accept an explicit boolean of their own name.
BOOLEAN_COLUMNS: frozenset[str] = frozenset(
    {
        BASELINE,
        "seizure",
        "psychosis",
        "organic_brain_syndrome",
        "visual_disturbance",
        "cranial_nerve_disorder",
        "lupus_headache",
        "cva",
        "vasculitis",
        "arthritis",
        "myositis",
        "urinary_casts",
        "haematuria",
        "proteinuria",
        "pyuria",
        "rash",
        "alopecia",
        "mucosal_ulcers",
        "pleurisy",
        "pericarditis",
        "low_complement",
        "increased_dna_binding",
        "fever",
        "fever_sle",
        "thrombocytopenia",
        "leukopenia",
        "ch50_low",
        "pyuria_infection",
        "cytopenia_drug",
        "rescue_therapy",
        "race_black",
        # SELENA clarifications (SPEC §1.2 rows 4, 5)
        "scleritis",
        "episcleritis",
        "vertigo_sle",
        # SFI manifestations and drugs (SPEC §1.4)
        "discoid_rash",
        "photosensitive_rash",
        "lupus_profundus",
        "cutaneous_vasculitis",
        "bullous_lupus",
        "nephritis",
        "haemolytic_anaemia",
        "gastrointestinal_activity",
        "hospitalisation_sle",
        "new_nsaid_or_hcq",
        "new_immunosuppressant",
        # LLDAS criterion 5 (SPEC §2.3)
        "investigational_drug",
        "nonstandard_immunosuppression",
    }
)

EVENT_DESCRIPTORS: frozenset[str] = frozenset(DESCRIPTOR_NAMES) | {
    "fever_sle",
    "scleritis",
    "episcleritis",
    "vertigo_sle",
}

# ---------------------------------------------------------------------------------
# BILAG-2004 (Isenberg 2005; Yee 2007)
# ---------------------------------------------------------------------------------

BILAG_SYSTEMS: tuple[str, ...] = (
    "constitutional",
    "mucocutaneous",
    "neuropsychiatric",
    "musculoskeletal",
    "cardiorespiratory",
    "gastrointestinal",
    "ophthalmic",
    "renal",
    "haematological",
)
BILAG_COLUMNS: tuple[str, ...] = tuple(f"bilag_{s}" for s in BILAG_SYSTEMS)
BILAG_GRADES: tuple[str, ...] = ("A", "B", "C", "D", "E")

SEXES: frozenset[str] = frozenset({"F", "M"})

#: Every input column an instrument reads (others are kept, with a warning).
KNOWN_COLUMNS: frozenset[str] = frozenset(
    {*REQUIRED_COLUMNS, *TIME_COLUMNS, BASELINE, "sex", *NUMERIC_COLUMNS}
    | set(ALTERNATIVE_UNITS)
    | BOOLEAN_COLUMNS
    | set(BILAG_COLUMNS)
)

SledaiVersion = Literal["SLEDAI-2K", "SELENA-SLEDAI", "SLEDAI-1992", "SLEDAI-S2K"]
RenalCriterion = Literal[
    "KDIGO-2024",
    "ACR-2006",
    "EULAR-2019",
    "ALMS",
    "BLISS-LN-PERR",
    "BLISS-LN-CRR",
    "AURORA-CRR",
    "ACCESS",
    "DENG-2017",
]
EgfrEquation = Literal[
    "ckd_epi_2021", "ckd_epi_2021_cys", "ckd_epi_2009", "mdrd_175", "mdrd_186", "cockcroft_gault"
]


class ScoringConfig(BaseModel):
    """Configuration knobs of SPEC §10, each with its documented default.

    Knobs marked [?] or [M] in SPEC are rules the sources disagree on; the defaults are
    explained in docs/clinical.md.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    # --- SLEDAI (SPEC §1) ---
    sledai_version: SledaiVersion = Field(
        default="SLEDAI-2K", description="SLEDAI used by SRI-k, BICLA and LLDAS (§1.2)."
    )
    sledai_window_days: int = Field(
        default=10,
        ge=0,
        le=90,
        description="Look-back window, inclusive both ends (Touma 2010: 30).",
    )
    arthritis_min_joints: int | None = Field(
        default=None, ge=1, description="Joints for arthritis; None = 2 for 2K, 3 for SELENA/1992."
    )
    proteinuria_source: Literal["24h", "upcr"] = Field(
        default="24h", description="Proteinuria measure for SLEDAI descriptor 13 (§1.2)."
    )
    proteinuria_fallback: bool = Field(
        default=True,
        description="Use the other proteinuria measure where the chosen one is missing.",
    )
    c3_lln_default_g_l: float = Field(default=0.9, gt=0, description="C3 LLN when no c3_lln_g_l.")
    c4_lln_default_g_l: float = Field(default=0.1, gt=0, description="C4 LLN when no c4_lln_g_l.")
    anti_dsdna_uln_default_iu_ml: float | None = Field(
        default=None,
        gt=0,
        description="anti-dsDNA ULN when no anti_dsdna_uln_iu_ml (None: no default).",
    )
    # --- PGA (§2.1, §5) ---
    pga_precision: Literal["0.1", "0.01"] = Field(
        default="0.01", description="PGA is quantised to this step and compared as exact integers."
    )
    # --- responders (§2) ---
    sri_k: int = Field(default=4, ge=4, le=8, description="Primary SRI-k reported in the summary.")
    intercurrent_event_rule: Literal["nri", "ignore"] = Field(
        default="nri", description="Rescue therapy / missing visit => non-responder (NRI)."
    )
    treatment_failure_sticky: bool = Field(
        default=True, description="Once rescue therapy is recorded, every later visit fails too."
    )
    impute_missing_visits: bool = Field(
        default=True,
        description="Add rows for scheduled visits a subject lacks, as non-responders.",
    )
    lldas_no_new_features: Literal["sledai", "sledai_bilag", "sfi"] = Field(
        default="sledai", description="LLDAS criterion 2 operationalisation (§2.3)."
    )
    lldas_pred_max_mg: float = Field(default=7.5, ge=0, description="LLDAS prednisone cap (<=).")
    lldas_pga_max: float = Field(default=1.0, ge=0, le=3, description="LLDAS PGA cap (<=).")
    doris_pred_max_mg: float = Field(default=5.0, ge=0, description="DORIS prednisone cap.")
    doris_pred_inclusive: bool = Field(default=True, description="DORIS prednisone <= (True) or <.")
    doris_pga_max: float = Field(default=0.5, ge=0, le=3, description="DORIS PGA bound (strict <).")
    # --- SFI (§1.4) ---
    sfi_variant: Literal["classic", "modified"] = Field(
        default="classic", description="flare_sfi column: classic SFI or BLISS modified SFI."
    )
    sfi_mild_min_increase: int = Field(
        default=3, ge=1, description="SELENA-SLEDAI rise for mild/mod."
    )
    sfi_doubling_is_severe: bool = Field(
        default=False, description="A doubling of prednisone (from >0) alone is a severe flare."
    )
    sfi_nephritis_from_sledai: bool = Field(
        default=False,
        description="Without a nephritis column, new proteinuria or casts count as nephritis.",
    )
    # --- renal (§3) ---
    renal_criteria: RenalCriterion = Field(
        default="KDIGO-2024", description="Primary renal response reported in the summary."
    )
    kidney_function_tolerance: float = Field(
        default=0.15,
        ge=0,
        lt=1,
        description="KDIGO 2024 (and Deng 2017) eGFR tolerance vs reference.",
    )
    egfr_reference: Literal["baseline", "preflare"] = Field(
        default="baseline", description="Kidney-function reference of KDIGO/EULAR/Deng rules."
    )
    upcr_mgmmol_convention: Literal["exact", "rounded"] = Field(
        default="exact", description="mg/mmol -> g/g: divide by 113.12 (exact) or 100 (rounded)."
    )
    egfr_equation: EgfrEquation = Field(
        default="ckd_epi_2021", description="Equation used where eGFR is not measured (§3.4)."
    )
    confirmation_rule: Literal["single", "two_consecutive"] = Field(
        default="single", description="Renal response must hold at this and the previous visit."
    )
    egfr_normal_min: float = Field(default=90.0, gt=0, description="'Normal GFR' lower bound.")
    creatinine_normal_max_mg_dl: float = Field(default=1.2, gt=0, description="'Normal SCr' bound.")
    eular_cr_upcr_max: float = Field(
        default=0.5, gt=0, description="EULAR 2019 CR (0.5-0.7), strict <."
    )
    access_pred_max_mg: float = Field(default=10.0, ge=0, description="ACCESS taper target (<=).")
    bliss_ln_pred_max_mg: float = Field(default=10.0, ge=0, description="BLISS-LN GC cap (<=).")
    bliss_ln_pred_from_day: int = Field(
        default=168, ge=0, description="BLISS-LN GC cap from this day."
    )
    aurora_pred_max_mg: float = Field(
        default=10.0, ge=0, description="AURORA GC cap at the visit (<=)."
    )
    # --- renal flare (§3.3) ---
    aurora_flare_confirmation: Literal["single", "two_consecutive"] = Field(
        default="single",
        description="AURORA 2 renal flare: one visit (source states no confirmation) or "
        "also met at the previous measured visit (reported at the confirming visit).",
    )
    lnrv_flare_min_visits: int = Field(
        default=2,
        ge=2,
        description="LN-RV 'persistent' flare: visits > 7 days apart (source: '>2 time points').",
    )

    def min_joints(self, version: str) -> int:
        """Joints needed for the arthritis descriptor under ``version`` (SPEC §1.2 row 9)."""
        if self.arthritis_min_joints is not None:
            return self.arthritis_min_joints
        return 2 if version == "SLEDAI-2K" else 3

    @property
    def pga_step_hundredths(self) -> int:
        """The PGA quantum in hundredths (10 or 1)."""
        return 10 if self.pga_precision == "0.1" else 1
