"""Where a parameter value comes from: a citation, a calibration, or an assumption.

The project rule: every parameter has units, a value and a provenance, and an
assumption is never presented as a measurement.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Citation:
    """Value read (or derived, ``tag='I'``) from a published source."""

    source: str
    tag: str = "V"  # V verbatim, P paraphrased, I inferred from sourced numbers, M prior
    note: str = ""

    def describe(self) -> str:
        note = f"; {self.note}" if self.note else ""
        return f"{self.source} [{self.tag}]{note}"


@dataclass(frozen=True)
class Calibrated:
    """Fitted by the committed calibration script to rows of targets.csv."""

    targets: tuple[str, ...]
    script: str = "scripts/calibrate_sun2009.py"

    def describe(self) -> str:
        return f"calibrated to targets {', '.join(self.targets)} ({self.script})"


@dataclass(frozen=True)
class Assumption:
    """A value no source gives; the reason is stated."""

    why: str

    def describe(self) -> str:
        return f"assumption: {self.why}"


Provenance = Citation | Calibrated | Assumption


@dataclass(frozen=True)
class ParameterValue:
    """A parameter's value in one preset, with its provenance."""

    value: float
    provenance: Provenance
