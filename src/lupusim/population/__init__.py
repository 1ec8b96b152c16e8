"""Virtual subjects: parameter sampling around a preset (more in issue 4)."""

from lupusim.population._sampling import sample_parameters, set_parameter
from lupusim.population._targets import (
    TARGET_POPULATIONS,
    EmpiricalTarget,
    LogNormalTarget,
    Marginal,
    NormalTarget,
    TargetPopulation,
    target_population,
)
from lupusim.population._weighting import (
    MatchReport,
    VariableMatch,
    WeightingWarning,
    kish_effective_n,
    match_report,
    match_report_selected,
    prevalence_weights,
    select_by_prevalence,
    weighted_ks,
)

__all__ = [
    "TARGET_POPULATIONS",
    "EmpiricalTarget",
    "LogNormalTarget",
    "Marginal",
    "MatchReport",
    "NormalTarget",
    "TargetPopulation",
    "VariableMatch",
    "WeightingWarning",
    "kish_effective_n",
    "match_report",
    "match_report_selected",
    "prevalence_weights",
    "sample_parameters",
    "select_by_prevalence",
    "set_parameter",
    "target_population",
    "weighted_ks",
]
