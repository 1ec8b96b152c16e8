"""Virtual subjects: parameter priors, baseline histories, target populations, weighting."""

from lupusim.population._baseline import (
    BASELINE_OBSERVABLES,
    REFRACTORY_DRUGS,
    BaselineCohort,
    Demographics,
    DiseaseHistory,
    refractory_history,
    simulate_baseline,
    trial_entrant_histories,
)
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
    "BASELINE_OBSERVABLES",
    "REFRACTORY_DRUGS",
    "TARGET_POPULATIONS",
    "BaselineCohort",
    "Demographics",
    "DiseaseHistory",
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
    "refractory_history",
    "sample_parameters",
    "select_by_prevalence",
    "set_parameter",
    "simulate_baseline",
    "target_population",
    "trial_entrant_histories",
    "weighted_ks",
]
