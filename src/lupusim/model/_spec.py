"""Declarative, symbolic model specification.

The model is written once, as sympy expressions over named states, parameters and
inputs (the pattern of AMICI: importer → symbolic → exporters; ../shared/DESIGN.md).
Everything else is generated from a :class:`ModelSpec`: the compiled right-hand side and
its analytic Jacobian (:mod:`lupusim.model._codegen`), the equation listing of
docs/model.md (:mod:`lupusim.model._docs`) and, later, the SBML export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import sympy as sp


@dataclass(frozen=True)
class _Symbolic:
    """A named, unit-carrying symbol of the model."""

    name: str
    unit: str
    description: str

    @property
    def symbol(self) -> sp.Symbol:
        return sp.Symbol(self.name, real=True)


@dataclass(frozen=True)
class State(_Symbolic):
    """A state variable of the ODE system."""

    lower_bound: float = 0.0


@dataclass(frozen=True)
class Parameter(_Symbolic):
    """A model parameter; its value and provenance live in a species preset."""


@dataclass(frozen=True)
class Input(_Symbolic):
    """A piecewise-constant input set by a regimen (e.g. a daily oral drug dose)."""


@dataclass(frozen=True)
class Observable:
    """A named output computed from states, parameters, inputs and time."""

    name: str
    unit: str
    description: str
    expression: sp.Expr


@dataclass(frozen=True)
class ModelSpec:
    """An immutable symbolic ODE model: ``dy/dt = f(t, y, p, u)``."""

    name: str
    states: tuple[State, ...]
    parameters: tuple[Parameter, ...]
    inputs: tuple[Input, ...]
    rates: tuple[sp.Expr, ...]
    observables: tuple[Observable, ...]
    time: sp.Symbol = field(default_factory=lambda: sp.Symbol("t", real=True))

    def __post_init__(self) -> None:
        if len(self.rates) != len(self.states):
            raise ValueError("one rate expression per state is required")
        names = [s.name for s in self.states] + [p.name for p in self.parameters]
        names += [u.name for u in self.inputs]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate symbol names: {sorted(dupes)}")
        known = {sp.Symbol(n, real=True) for n in names} | {self.time}
        for state, rate in zip(self.states, self.rates, strict=True):
            unknown = rate.free_symbols - known
            if unknown:
                raise ValueError(f"rate of {state.name} uses undeclared symbols {unknown}")
        for obs in self.observables:
            unknown = obs.expression.free_symbols - known
            if unknown:
                raise ValueError(f"observable {obs.name} uses undeclared symbols {unknown}")

    # Names and positions are computed once per spec (treatments look parameters up by
    # name for every subject; rebuilding the tuples each time cost ~20 % of a batch run).
    @cached_property
    def state_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states)

    @cached_property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @cached_property
    def input_names(self) -> tuple[str, ...]:
        return tuple(u.name for u in self.inputs)

    @cached_property
    def observable_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.observables)

    @cached_property
    def _positions(self) -> dict[str, dict[str, int]]:
        return {
            kind: {name: i for i, name in enumerate(names)}
            for kind, names in (
                ("state", self.state_names),
                ("input", self.input_names),
                ("parameter", self.parameter_names),
            )
        }

    def state_index(self, name: str) -> int:
        try:
            return self._positions["state"][name]
        except KeyError:
            raise KeyError(f"unknown state {name!r}") from None

    def input_index(self, name: str) -> int:
        try:
            return self._positions["input"][name]
        except KeyError:
            raise KeyError(f"unknown input {name!r}") from None

    def parameter_index(self, name: str) -> int:
        try:
            return self._positions["parameter"][name]
        except KeyError:
            raise KeyError(f"unknown parameter {name!r}") from None

    def jacobian(self) -> sp.Matrix:
        """Analytic Jacobian ``∂f/∂y`` of the right-hand side."""
        ys = [s.symbol for s in self.states]
        return sp.Matrix(self.rates).jacobian(ys)


class ModelBuilder:
    """Collects states, parameters, inputs, rates and observables in order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._states: list[State] = []
        self._parameters: dict[str, Parameter] = {}
        self._inputs: list[Input] = []
        self._rates: dict[str, sp.Expr] = {}
        self._observables: list[Observable] = []
        self.time = sp.Symbol("t", real=True)

    def state(self, name: str, unit: str, description: str) -> sp.Symbol:
        self._states.append(State(name, unit, description))
        return sp.Symbol(name, real=True)

    def parameter(self, name: str, unit: str, description: str) -> sp.Symbol:
        if name in self._parameters:
            raise ValueError(f"parameter {name!r} declared twice")
        self._parameters[name] = Parameter(name, unit, description)
        return sp.Symbol(name, real=True)

    def input(self, name: str, unit: str, description: str) -> sp.Symbol:
        self._inputs.append(Input(name, unit, description))
        return sp.Symbol(name, real=True)

    def rate(self, state: sp.Symbol, expression: sp.Expr) -> None:
        if state.name in self._rates:
            raise ValueError(f"rate of {state.name!r} given twice")
        self._rates[state.name] = sp.sympify(expression)

    def observable(self, name: str, unit: str, description: str, expression: sp.Expr) -> None:
        self._observables.append(Observable(name, unit, description, sp.sympify(expression)))

    def build(self) -> ModelSpec:
        missing = [s.name for s in self._states if s.name not in self._rates]
        if missing:
            raise ValueError(f"states without a rate: {missing}")
        return ModelSpec(
            name=self.name,
            states=tuple(self._states),
            parameters=tuple(self._parameters.values()),
            inputs=tuple(self._inputs),
            rates=tuple(self._rates[s.name] for s in self._states),
            observables=tuple(self._observables),
            time=self.time,
        )
