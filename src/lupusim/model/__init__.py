"""The MSC–immune–organ model of SLE: symbolic equations, presets, generated code."""

from lupusim.model._codegen import CompiledModel, compile_model, generate_source, model_hash
from lupusim.model._posterior import (
    MODEL_INTERVAL,
    UNBOUNDED,
    UNIT_INTERVAL,
    Bounds,
    PosteriorEnsemble,
    centred,
    finite_values,
    load_ensemble,
    model_interval,
    rescaled_parameters,
)
from lupusim.model._presets import PRESET_NAMES, Preset, Subgroup, get_preset
from lupusim.model._provenance import (
    Assumption,
    Calibrated,
    Citation,
    ParameterValue,
    Provenance,
)
from lupusim.model._sle import Species, build_model
from lupusim.model._spec import Input, ModelSpec, Observable, Parameter, State

__all__ = [
    "MODEL_INTERVAL",
    "PRESET_NAMES",
    "UNBOUNDED",
    "UNIT_INTERVAL",
    "Assumption",
    "Bounds",
    "Calibrated",
    "Citation",
    "CompiledModel",
    "Input",
    "ModelSpec",
    "Observable",
    "Parameter",
    "ParameterValue",
    "PosteriorEnsemble",
    "Preset",
    "Provenance",
    "Species",
    "State",
    "Subgroup",
    "build_model",
    "centred",
    "compile_model",
    "finite_values",
    "generate_source",
    "get_preset",
    "load_ensemble",
    "model_hash",
    "model_interval",
    "rescaled_parameters",
]
