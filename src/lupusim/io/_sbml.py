"""SBML Level 3 Version 2 export of the symbolic model (python-libsbml).

Encoding choices (a simulator that reads the file reproduces :func:`lupusim.engine.simulate`):

* **States** are non-constant SBML *parameters* with a *rate rule* ``d(state)/dt = rate``,
  not species: the model has no reactions and its states are concentrations, counts,
  fractions and cumulative hazards in mixed units, so rate rules on parameters simulate
  identically and carry each state's own unit. One compartment ``body`` (size 1,
  constant) is declared for tools that expect one; nothing lives in it.
* **Model parameters** are constant parameters with the subject's values.
* **Inputs** (piecewise-constant daily doses) are non-constant parameters without rules,
  initialised to 0 and changed only by events.
* **Time**: SBML time starts at 0, which is lupusim time ``t0``. With ``t0 != 0`` every
  use of model time is written ``(time + t0)`` and an event at lupusim day ``d`` is
  triggered at SBML time ``d - t0``; simulate the file from 0 to ``t_end - t0``.
* **Doses** are SBML events, one per engine event: a :class:`~lupusim.engine.Bolus` is an
  event triggered when ``time >= day - t0`` that assigns ``state = state + amount``; a
  :class:`~lupusim.engine.RateChange` assigns ``input = input + delta``. Triggers are
  persistent with ``initialValue=false`` (so an event at SBML time 0 fires at 0).
  ``useValuesFromTriggerTime`` is **false**: the events have no delay, so the assignment is
  evaluated when the event executes, and simultaneous events on the same variable (a
  glucocorticoid taper step stops one dose and starts the next at the same instant)
  accumulate one after the other instead of each overwriting the other with a value
  computed from the pre-event state.
* **Observables** are non-constant parameters with assignment rules, with the
  observable's name as id. An observable whose name is already a state or input id and
  whose expression is that very symbol (e.g. ``renal_activity``) needs no rule: the
  variable reports it. Any other clash would get the id ``obs_<name>``.
* **Units**: the model's time unit is ``day``; every lupusim unit string that maps onto
  SBML base units gets a unit definition (``per_day``, ``g_per_L``, ``mg_per_dL``,
  ``mL_per_min_per_1_73m2``, ...). Units with no SI form (``IU/mL``, ``/HPF``) are left
  undeclared. Every element also carries its lupusim unit string and description in an
  annotation (``lupusim:meta``) and in its notes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import sympy as sp

from lupusim.engine._events import Bolus, Event, RateChange
from lupusim.engine._simulate import Regimen
from lupusim.errors import LupusimError
from lupusim.model._presets import get_preset
from lupusim.model._spec import ModelSpec

SBML_LEVEL = 3
SBML_VERSION = 2
LUPUSIM_SBML_NS = "https://lupusim.invalid/sbml/1"
COMPARTMENT_ID = "body"

# Names (compared case-insensitively) the SBML L3 infix parser reads as constants or
# symbols rather than identifiers; ``t`` is the model's own time symbol.
_RESERVED = frozenset(
    {
        "time",
        "t",
        "pi",
        "e",
        "exponentiale",
        "avogadro",
        "true",
        "false",
        "inf",
        "infinity",
        "nan",
        "notanumber",
        "delay",
        "rateof",
    }
)

_UnitFactor = tuple[str, float, int, float]  # kind, exponent, scale, multiplier

_DAY_S = 86400.0
# lupusim unit string -> SBML unit id and (for non-built-in units) its definition.
_UNITS: dict[str, tuple[str, tuple[_UnitFactor, ...]]] = {
    "1": ("dimensionless", ()),
    "g/g": ("dimensionless", ()),
    "kg": ("kilogram", ()),
    "g": ("gram", ()),
    "cells": ("item", ()),
    "day": ("day", (("second", 1, 0, _DAY_S),)),
    "1/day": ("per_day", (("second", -1, 0, _DAY_S),)),
    "years": ("year", (("second", 1, 0, 365.25 * _DAY_S),)),
    "%": ("percent", (("dimensionless", 1, 0, 0.01),)),
    "% CD4": ("percent_of_cd4", (("dimensionless", 1, 0, 0.01),)),
    "mg/g": ("mg_per_g", (("dimensionless", 1, -3, 1.0),)),
    "cells/kg": ("cells_per_kg", (("item", 1, 0, 1.0), ("kilogram", -1, 0, 1.0))),
    "1e9/L": ("giga_cells_per_L", (("item", 1, 9, 1.0), ("litre", -1, 0, 1.0))),
    "g/L": ("g_per_L", (("gram", 1, 0, 1.0), ("litre", -1, 0, 1.0))),
    "mg/dL": ("mg_per_dL", (("gram", 1, -3, 1.0), ("litre", -1, -1, 1.0))),
    "g/day": ("g_per_day", (("gram", 1, 0, 1.0), ("second", -1, 0, _DAY_S))),
    "mg/day": ("mg_per_day", (("gram", 1, -3, 1.0), ("second", -1, 0, _DAY_S))),
    "mg/kg/day": (
        "mg_per_kg_per_day",
        (("gram", 1, -3, 1.0), ("kilogram", -1, 0, 1.0), ("second", -1, 0, _DAY_S)),
    ),
    # mL/min per 1.73 m² of body-surface area: (sqrt(1.73) m)^-2 = 1/(1.73 m²).
    "mL/min/1.73m2": (
        "mL_per_min_per_1_73m2",
        (("litre", 1, -3, 1.0), ("second", -1, 0, 60.0), ("metre", -2, 0, math.sqrt(1.73))),
    ),
}


class _L3Printer:
    """sympy expression → SBML L3 infix formula (fully parenthesised)."""

    def __init__(self, time: sp.Symbol, t0: float) -> None:
        self.time = time
        self.time_text = "time" if t0 == 0.0 else f"(time + {_num(t0)})"

    def __call__(self, expr: sp.Basic) -> str:
        return self._p(expr)

    def _p(self, e: sp.Basic) -> str:
        if e == self.time:
            return self.time_text
        if isinstance(e, sp.Symbol):
            return e.name
        if e is sp.true or isinstance(e, sp.logic.boolalg.BooleanTrue):
            return "true"
        if e is sp.false or isinstance(e, sp.logic.boolalg.BooleanFalse):
            return "false"
        if isinstance(e, sp.Integer):
            return _num(int(e))
        if isinstance(e, sp.Rational):
            return f"({_num(int(e.p))}/{_num(int(e.q))})"
        if isinstance(e, sp.Float):
            return _num(float(e))
        if e is sp.pi:
            return "pi"
        if e is sp.E:
            return "exponentiale"
        if isinstance(e, sp.Add):
            return "(" + " + ".join(self._p(a) for a in e.args) + ")"
        if isinstance(e, sp.Mul):
            return "(" + " * ".join(self._p(a) for a in e.args) + ")"
        if isinstance(e, sp.Pow):
            base, ex = e.args
            if ex == sp.Rational(1, 2):
                return f"sqrt({self._p(base)})"
            if ex == -1:
                return f"(1 / {self._p(base)})"
            return f"({self._p(base)} ^ {self._p(ex)})"
        if isinstance(e, sp.Piecewise):
            parts: list[str] = []
            for value, cond in e.args:
                if cond is sp.true or isinstance(cond, sp.logic.boolalg.BooleanTrue):
                    parts.append(self._p(value))
                    break
                parts += [self._p(value), self._p(cond)]
            return "piecewise(" + ", ".join(parts) + ")"
        if isinstance(e, sp.core.relational.Relational):
            ops = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "==", "!=": "!="}
            return f"({self._p(e.lhs)} {ops[e.rel_op]} {self._p(e.rhs)})"
        if isinstance(e, sp.And):
            return "(" + " && ".join(self._p(a) for a in e.args) + ")"
        if isinstance(e, sp.Or):
            return "(" + " || ".join(self._p(a) for a in e.args) + ")"
        if isinstance(e, sp.Not):
            return f"(!{self._p(e.args[0])})"
        if isinstance(e, sp.Min | sp.Max):
            name = "min" if isinstance(e, sp.Min) else "max"
            return f"{name}(" + ", ".join(self._p(a) for a in e.args) + ")"
        functions = {
            sp.exp: "exp",
            sp.log: "ln",
            sp.Abs: "abs",
            sp.tanh: "tanh",
            sp.sin: "sin",
            sp.cos: "cos",
            sp.floor: "floor",
            sp.ceiling: "ceil",
        }
        for cls, name in functions.items():
            if isinstance(e, cls):
                if cls is sp.log and len(e.args) != 1:
                    break
                return f"{name}(" + ", ".join(self._p(a) for a in e.args) + ")"
        raise LupusimError(f"SBML export: cannot translate {type(e).__name__} in {e}")


def _num(x: float) -> str:
    if isinstance(x, int):
        return str(x) if x >= 0 else f"({x})"
    if not math.isfinite(x):
        raise LupusimError(f"SBML export: non-finite number {x}")
    text = repr(float(x))
    return text if x >= 0 else f"({text})"


def _libsbml() -> Any:
    """The libsbml module, or a clear error when the optional dependency is missing."""
    try:
        import libsbml
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise LupusimError("SBML export needs python-libsbml: pip install python-libsbml") from exc
    return libsbml


def _check(status: int, what: str) -> None:
    libsbml = _libsbml()

    if status != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise LupusimError(
            f"SBML export: {what} failed: {libsbml.OperationReturnValue_toString(status)}"
        )


def _meta(kind: str, unit: str, description: str) -> tuple[str, str]:
    annotation = (
        f"<annotation><lupusim:meta xmlns:lupusim={quoteattr(LUPUSIM_SBML_NS)} "
        f"kind={quoteattr(kind)} unit={quoteattr(unit)}/></annotation>"
    )
    notes = (
        '<notes><body xmlns="http://www.w3.org/1999/xhtml">'
        f"<p>{escape(description)}</p><p>lupusim unit: {escape(unit)}</p></body></notes>"
    )
    return annotation, notes


def _parameter_values(spec: ModelSpec, parameters: Mapping[str, float] | np.ndarray) -> list[float]:
    if isinstance(parameters, Mapping):
        unknown = set(parameters) - set(spec.parameter_names)
        missing = [n for n in spec.parameter_names if n not in parameters]
        if unknown or missing:
            raise LupusimError(
                f"SBML export: parameters unknown {sorted(unknown)}, missing {missing}"
            )
        return [float(parameters[n]) for n in spec.parameter_names]
    vec = np.asarray(parameters, dtype=float).reshape(-1)
    if vec.shape != (len(spec.parameters),):
        raise LupusimError(f"SBML export: need {len(spec.parameters)} parameter values")
    return [float(v) for v in vec]


def model_to_sbml(
    spec: ModelSpec,
    parameters: Mapping[str, float] | np.ndarray,
    y0: np.ndarray,
    events: Sequence[Event] = (),
    *,
    t0: float = 0.0,
) -> str:
    """The model with one subject's parameters, initial state and doses as SBML L3V2.

    ``y0`` is the state at lupusim time ``t0``, which is SBML time 0 (see the module
    docstring for the encoding). Events before ``t0`` are rejected.
    """
    libsbml = _libsbml()
    values = _parameter_values(spec, parameters)
    init = np.asarray(y0, dtype=float).reshape(-1)
    if init.shape != (len(spec.states),):
        raise LupusimError(f"SBML export: y0 must have {len(spec.states)} values")
    ids = [*spec.state_names, *spec.parameter_names, *spec.input_names]
    bad = [n for n in ids if n.lower() in _RESERVED or not n.isidentifier() or not n.isascii()]
    if bad or COMPARTMENT_ID in ids:
        raise LupusimError(f"SBML export: names unusable as SBML ids: {bad or [COMPARTMENT_ID]}")

    doc = libsbml.SBMLDocument(SBML_LEVEL, SBML_VERSION)
    model = doc.createModel()
    _check(model.setId(spec.name), "model id")
    model.setName(spec.name)
    _check(
        model.setNotes(
            '<body xmlns="http://www.w3.org/1999/xhtml"><p>Exported by lupusim. SBML time 0 '
            f"is lupusim day {_num(float(t0))}; time unit: day.</p></body>"
        ),
        "model notes",
    )

    used_units = {"day"} | {s.unit for s in spec.states} | {o.unit for o in spec.observables}
    used_units |= {prm.unit for prm in spec.parameters} | {u.unit for u in spec.inputs}
    for unit in sorted(used_units):
        if unit not in _UNITS or not _UNITS[unit][1]:
            continue
        uid, factors = _UNITS[unit]
        ud = model.createUnitDefinition()
        _check(ud.setId(uid), f"unit {uid}")
        ud.setName(unit)
        for kind, exponent, scale, multiplier in factors:
            u = ud.createUnit()
            _check(u.setKind(libsbml.UnitKind_forName(kind)), f"unit kind {kind}")
            u.setExponent(exponent)
            u.setScale(scale)
            u.setMultiplier(multiplier)
    _check(model.setTimeUnits("day"), "time units")

    comp = model.createCompartment()
    comp.setId(COMPARTMENT_ID)
    comp.setSize(1.0)
    comp.setConstant(True)
    comp.setSpatialDimensions(3)
    comp.setUnits("litre")

    def add_parameter(
        pid: str, value: float | None, constant: bool, unit: str, kind: str, description: str
    ) -> None:
        prm = model.createParameter()
        _check(prm.setId(pid), f"id {pid}")
        prm.setName(pid)
        prm.setConstant(constant)
        if value is not None:
            if not math.isfinite(value):
                raise LupusimError(f"SBML export: non-finite value {value} for {pid}")
            prm.setValue(value)
        if unit in _UNITS:
            _check(prm.setUnits(_UNITS[unit][0]), f"units of {pid}")
        annotation, notes = _meta(kind, unit, description)
        _check(prm.setAnnotation(annotation), f"annotation of {pid}")
        _check(prm.setNotes(notes), f"notes of {pid}")

    def math_of(expr: sp.Basic, where: str) -> Any:
        formula = printer(expr)
        ast = libsbml.parseL3Formula(formula)
        if ast is None:
            raise LupusimError(
                f"SBML export: cannot parse {where}: {libsbml.getLastParseL3Error()}"
            )
        return ast

    printer = _L3Printer(spec.time, float(t0))
    for state, value in zip(spec.states, init, strict=True):
        add_parameter(state.name, float(value), False, state.unit, "state", state.description)
    for prm_spec, value in zip(spec.parameters, values, strict=True):
        add_parameter(prm_spec.name, value, True, prm_spec.unit, "parameter", prm_spec.description)
    for inp in spec.inputs:
        add_parameter(inp.name, 0.0, False, inp.unit, "input", inp.description)

    for state, rate in zip(spec.states, spec.rates, strict=True):
        rule = model.createRateRule()
        _check(rule.setVariable(state.name), f"rate rule of {state.name}")
        _check(rule.setMath(math_of(rate, f"rate of {state.name}")), f"rate of {state.name}")

    taken = set(ids)
    for obs in spec.observables:
        oid = obs.name
        if oid in taken:
            if obs.expression == sp.Symbol(oid, real=True):
                continue
            oid = f"obs_{oid}"
        if oid in taken or not oid.isidentifier() or oid.lower() in _RESERVED:
            raise LupusimError(f"SBML export: observable id {oid!r} unusable")
        taken.add(oid)
        add_parameter(oid, None, False, obs.unit, "observable", obs.description)
        rule = model.createAssignmentRule()
        _check(rule.setVariable(oid), f"assignment rule of {oid}")
        _check(rule.setMath(math_of(obs.expression, f"observable {obs.name}")), oid)

    state_ids, input_ids = set(spec.state_names), set(spec.input_names)
    for i, ev in enumerate(sorted(events, key=lambda e: e.time_days)):
        if ev.time_days < t0:
            raise LupusimError(f"SBML export: event before the start time {t0}: {ev}")
        if isinstance(ev, Bolus):
            target, delta = ev.state, ev.amount
            if target not in state_ids:
                raise LupusimError(f"SBML export: bolus into unknown state {target!r}")
        elif isinstance(ev, RateChange):
            target, delta = ev.input, ev.delta
            if target not in input_ids:
                raise LupusimError(f"SBML export: rate change of unknown input {target!r}")
        else:  # pragma: no cover - Event is a closed union
            raise LupusimError(f"SBML export: unknown event {ev!r}")
        sev = model.createEvent()
        _check(sev.setId(f"dose_{i + 1}"), "event id")
        sev.setName(ev.label or f"{type(ev).__name__} {target}")
        sev.setUseValuesFromTriggerTime(False)
        trig = sev.createTrigger()
        trig.setInitialValue(False)
        trig.setPersistent(True)
        when = libsbml.parseL3Formula(f"time >= {_num(float(ev.time_days - t0))}")
        _check(trig.setMath(when), "event trigger")
        assign = sev.createEventAssignment()
        assign.setVariable(target)
        _check(
            assign.setMath(libsbml.parseL3Formula(f"{target} + {_num(float(delta))}")),
            "event assignment",
        )
        annotation, _ = _meta(
            "event", "", f"{type(ev).__name__} at lupusim day {ev.time_days}: {ev.label}"
        )
        _check(sev.setAnnotation(annotation), "event annotation")

    text: str = libsbml.writeSBMLToString(doc)
    return text


def validate_sbml(text: str) -> None:
    """Raise :class:`LupusimError` with the first error of an SBML document, if any."""
    libsbml = _libsbml()

    doc = libsbml.readSBMLFromString(text)
    doc.checkConsistency()
    for i in range(doc.getNumErrors()):
        err = doc.getError(i)
        if err.getSeverity() >= libsbml.LIBSBML_SEV_ERROR:
            raise LupusimError(f"invalid SBML (line {err.getLine()}): {err.getMessage().strip()}")


def export_sbml(preset_name: str, out_path: Path, regimen: Regimen | None = None) -> Path:
    """Write the preset's default subject (and ``regimen``'s doses) as validated SBML.

    Time 0 of the file is lupusim day 0. Regimens with policies (rules evaluated during
    a simulation, e.g. re-infusion on relapse) cannot be expressed as fixed events and
    are rejected.
    """
    if regimen is not None and tuple(regimen.policies):
        raise LupusimError("SBML export: regimens with policies cannot be exported")
    preset = get_preset(preset_name)
    spec = preset.model
    params = preset.parameter_vector()
    events = regimen.events(spec, params) if regimen is not None else []
    text = model_to_sbml(spec, params, preset.initial_state(params), events)
    validate_sbml(text)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out
