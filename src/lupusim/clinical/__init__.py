"""Clinical instruments from visit tables — for real and virtual patients.

A standalone library (it never imports the model): load a visit table (CSV, Parquet,
pandas, or CDISC SDTM), check it, and score SLEDAI-2K and its relatives, eGFR, renal
response (KDIGO 2024, ACR 2006, EULAR 2019, ALMS, BLISS-LN, AURORA, ACCESS, Deng 2017),
renal flare (AURORA 2, LN response variables),
SRI-k, BICLA, LLDAS, DORIS, the SELENA Flare Index, the SLICC/ACR Damage Index and the
FDA 2010 BILAG responses. See docs/clinical.md and ../shared/clinical/SPEC.md.

Typical use::

    from lupusim.clinical import score_visits
    result = score_visits("visits.csv")
    result.scores  # one row per subject-visit
"""

from lupusim.clinical._ranges import RANGES, Range, Ranges, ranges_from_options
from lupusim.clinical.adam import to_adam
from lupusim.clinical.bilag import fda_2010_response, new_a_b, numeric_score
from lupusim.clinical.context import Context, build_context
from lupusim.clinical.damage import sdi
from lupusim.clinical.doris import doris
from lupusim.clinical.egfr import (
    ckd_epi_2009,
    ckd_epi_2021,
    ckd_epi_2021_cys,
    cockcroft_gault,
    egfr,
    mdrd_175,
    mdrd_186,
)
from lupusim.clinical.flare import sfi
from lupusim.clinical.lldas import lldas
from lupusim.clinical.load import VisitData, load_events, load_visits, read_table
from lupusim.clinical.output import load_config, write_outputs
from lupusim.clinical.renal import (
    aurora_crr,
    bliss_ln_crr,
    bliss_ln_perr,
    renal_access,
    renal_acr_2006,
    renal_alms,
    renal_deng_2017,
    renal_eular_2019,
    renal_kdigo,
)
from lupusim.clinical.renal_flare import (
    first_renal_flare_day,
    renal_flare_aurora2,
    renal_flare_lnrv,
)
from lupusim.clinical.responders import bicla, sri
from lupusim.clinical.schema import (
    BILAG_COLUMNS,
    DESCRIPTOR_NAMES,
    SDI_ITEMS,
    SLEDAI_DESCRIPTORS,
    ScoringConfig,
)
from lupusim.clinical.score import SCORE_COLUMNS, ScoreResult, score_visits
from lupusim.clinical.sdtm import read_sdtm, to_sdtm
from lupusim.clinical.sledai import activity_band, clinical_sledai, sledai, sledai_items
from lupusim.clinical.validate import Issue

__all__ = [
    "BILAG_COLUMNS",
    "DESCRIPTOR_NAMES",
    "RANGES",
    "SCORE_COLUMNS",
    "SDI_ITEMS",
    "SLEDAI_DESCRIPTORS",
    "Context",
    "Issue",
    "Range",
    "Ranges",
    "ScoreResult",
    "ScoringConfig",
    "VisitData",
    "activity_band",
    "aurora_crr",
    "bicla",
    "bliss_ln_crr",
    "bliss_ln_perr",
    "build_context",
    "ckd_epi_2009",
    "ckd_epi_2021",
    "ckd_epi_2021_cys",
    "clinical_sledai",
    "cockcroft_gault",
    "doris",
    "egfr",
    "fda_2010_response",
    "first_renal_flare_day",
    "lldas",
    "load_config",
    "load_events",
    "load_visits",
    "mdrd_175",
    "mdrd_186",
    "new_a_b",
    "numeric_score",
    "ranges_from_options",
    "read_sdtm",
    "read_table",
    "renal_access",
    "renal_acr_2006",
    "renal_alms",
    "renal_deng_2017",
    "renal_eular_2019",
    "renal_flare_aurora2",
    "renal_flare_lnrv",
    "renal_kdigo",
    "score_visits",
    "sdi",
    "sfi",
    "sledai",
    "sledai_items",
    "sri",
    "to_adam",
    "to_sdtm",
    "write_outputs",
]
