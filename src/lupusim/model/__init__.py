"""The MSC–immune–organ model of SLE: symbolic equations, presets, generated code."""

from lupusim.model._codegen import CompiledModel, compile_model, generate_source, model_hash
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
    "PRESET_NAMES",
    "Assumption",
    "Calibrated",
    "Citation",
    "CompiledModel",
    "Input",
    "ModelSpec",
    "Observable",
    "Parameter",
    "ParameterValue",
    "Preset",
    "Provenance",
    "Species",
    "State",
    "Subgroup",
    "build_model",
    "compile_model",
    "generate_source",
    "get_preset",
    "model_hash",
]
