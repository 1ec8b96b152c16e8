"""Global sensitivity of a trial endpoint to the human model's parameters (docs/sensitivity.md).

Morris screening and Sobol' indices (SALib) of one endpoint of a protocol, evaluated on
the same virtual patients for every parameter set (common random numbers).
"""

from lupusim.sensitivity._endpoint import (
    EndpointEvaluator,
    EndpointOutput,
    arm_estimates,
    resolve_output,
)
from lupusim.sensitivity._factors import (
    GROUP_NAMES,
    GROUP_RULES,
    SUBJECT_DEMOGRAPHICS,
    Factor,
    eligible_parameters,
    group_of,
    parameter_factor,
    parameter_groups,
    select_factors,
)
from lupusim.sensitivity._methods import (
    MorrisResult,
    SobolResult,
    morris_screen,
    sobol_indices,
)
from lupusim.sensitivity._run import INDEX_COLUMNS, SensitivityOptions, run_sensitivity

__all__ = [
    "GROUP_NAMES",
    "GROUP_RULES",
    "INDEX_COLUMNS",
    "SUBJECT_DEMOGRAPHICS",
    "EndpointEvaluator",
    "EndpointOutput",
    "Factor",
    "MorrisResult",
    "SensitivityOptions",
    "SobolResult",
    "arm_estimates",
    "eligible_parameters",
    "group_of",
    "morris_screen",
    "parameter_factor",
    "parameter_groups",
    "resolve_output",
    "run_sensitivity",
    "select_factors",
    "sobol_indices",
]
