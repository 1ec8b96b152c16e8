"""The one table of numeric ranges every input is checked against, with their sources.

Each :class:`Range` names a quantity in its canonical unit and two intervals:

* **possible** — what the quantity can be at all (a concentration is not negative, PGA is
  on a 0-3 scale, an SDI item scores at most its points). Fixed: no option moves it.
* **plausible** — what a living patient (or a protocol dose) can show, with the source
  or the reason for the bounds. A value outside it is an error too, most often a unit
  or typing slip (mg/g typed as g/g, a date serial as a study day). It can be moved,
  within the possible interval, only explicitly: :meth:`Ranges.override` (the
  ``--range NAME=LOW:HIGH`` option of ``lupusim score`` and ``lupusim trial run``),
  and the change is reported in the outputs (never silent).

Every value must also be finite: ``inf``, ``-inf``, the text ``nan`` and overflowing
numbers such as ``1e400`` are errors, whatever the range. Messages read
``value V: why``; the loaders prefix file, row and column (or the protocol field).

The visit-table columns are keyed by their canonical column name; protocol doses by
``dose_<drug>_<unit>``. Label maxima of doses are multiplied by :data:`DOSE_MARGIN`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lupusim.clinical import schema as S
from lupusim.errors import InputError

#: Factor on a drug's label maximum that a protocol dose may reach (assumption: room for
#: a protocol that explores above label, while a unit slip — mg for g — still fails).
DOSE_MARGIN = 1.5

Bound = float | None
Interval = tuple[Bound, Bound]

NOT_FINITE = "not a finite number"
NOT_A_NUMBER = "not a number (a missing value is an empty cell)"


def format_number(value: float) -> str:
    """A number as written in messages: ``5000``, ``0.7``, ``1e+308``, ``inf``, ``nan``."""
    v = float(value)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == math.floor(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def why_not_a_number(text: str) -> str:
    """``value V: why`` (or ``expected a number, got 'V'``) for a cell that is not a number.

    The text ``nan`` is refused (a missing value is an empty cell); ``inf`` and numbers
    that overflow a double (``1e400``) are not finite.
    """
    try:
        value = float(text)
    except ValueError:
        return f"expected a number, got {text!r}"
    if math.isnan(value):
        return f"value {text}: {NOT_A_NUMBER}"
    if math.isinf(value):
        return f"value {text}: {NOT_FINITE}"
    return f"expected a number, got {text!r}"


def _span(low: Bound, high: Bound, unit: str) -> str:
    u = f" {unit}" if unit else ""
    if low is not None and high is not None:
        sep = "-" if low >= 0 else " to "
        return f"{format_number(low)}{sep}{format_number(high)}{u}"
    if low is not None:
        return f"at least {format_number(low)}{u}"
    if high is not None:
        return f"at most {format_number(high)}{u}"
    return "any finite value"


def _outside(v: float, low: Bound, high: Bound) -> bool:
    return (low is not None and v < low) or (high is not None and v > high)


@dataclass(frozen=True)
class Range:
    """A quantity's possible and plausible interval (inclusive; None = unbounded)."""

    name: str
    unit: str
    low: Bound
    high: Bound
    source: str
    possible: Interval = (0.0, None)

    def why(self, value: float) -> str | None:
        """Why ``value`` is not acceptable, or None if it is."""
        v = float(value)
        if not math.isfinite(v):
            return NOT_FINITE
        lo, hi = self.possible
        if _outside(v, lo, hi):
            if lo == 0.0 and v < 0:
                return f"negative value, impossible for {self.name}"
            return f"impossible for {self.name} (possible: {_span(lo, hi, self.unit)})"
        if _outside(v, self.low, self.high):
            return (
                f"outside the plausible range {_span(self.low, self.high, self.unit)} of "
                f"{self.name} (widen with --range {self.name}=LOW:HIGH)"
            )
        return None

    def problem(self, value: float) -> str | None:
        """``value V: why`` if ``value`` is not acceptable, else None."""
        why = self.why(value)
        return None if why is None else f"value {format_number(value)}: {why}"

    @property
    def plausible_text(self) -> str:
        """The plausible interval as text, e.g. ``0-50 g/g``."""
        return _span(self.low, self.high, self.unit)

    @property
    def possible_text(self) -> str:
        """The possible interval as text."""
        return _span(*self.possible, self.unit)


class Ranges(Mapping[str, Range]):
    """The range table, possibly with some plausible intervals overridden."""

    def __init__(
        self, entries: Iterable[Range], overridden: Mapping[str, Interval] | None = None
    ) -> None:
        self._entries = {r.name: r for r in entries}
        self._overridden = dict(overridden or {})

    def __getitem__(self, name: str) -> Range:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def overridden(self) -> dict[str, Interval]:
        """Name → the plausible interval given by an override (for the outputs)."""
        return dict(self._overridden)

    def override_notes(self) -> list[str]:
        """One line per overridden range, for a summary's warnings."""
        return [
            f"plausible range of {name} overridden: {self[name].plausible_text} "
            f"(default {RANGES[name].plausible_text})"
            if name in RANGES
            else f"plausible range of {name} overridden: {self[name].plausible_text}"
            for name in self._overridden
        ]

    def override(self, changes: Mapping[str, tuple[float, float]]) -> Ranges:
        """A copy with the plausible intervals of ``changes`` (name → (low, high)).

        ``-inf`` / ``inf`` remove a bound. An interval must lie within the possible one
        and have low ≤ high; an unknown name is an error.
        """
        entries = dict(self._entries)
        done = dict(self._overridden)
        for name, (low, high) in changes.items():
            if name not in entries:
                raise _unknown(name, entries)
            lo = None if low == -math.inf else float(low)
            hi = None if high == math.inf else float(high)
            if any(b is not None and math.isnan(b) for b in (lo, hi)):
                raise InputError(f"--range {name}: bounds must be numbers")
            if lo is not None and hi is not None and lo > hi:
                raise InputError(f"--range {name}: low {format_number(lo)} is above high")
            current = entries[name]
            plo, phi = current.possible
            if (plo is not None and (lo is None or lo < plo)) or (
                phi is not None and (hi is None or hi > phi)
            ):
                raise InputError(
                    f"--range {name}: {_span(lo, hi, current.unit)} goes beyond what is "
                    f"possible ({current.possible_text})"
                )
            entries[name] = replace(current, low=lo, high=hi)
            done[name] = (lo, hi)
        return Ranges(entries.values(), done)

    def possible_only(self) -> Ranges:
        """A copy whose plausible intervals are the possible ones (for simulated data)."""
        return Ranges(replace(r, low=r.possible[0], high=r.possible[1]) for r in self.values())

    def why(self, name: str, value: float) -> str | None:
        """Why ``value`` of ``name`` is not acceptable; names without a range need finiteness."""
        entry = self._entries.get(name)
        if entry is None:
            return None if math.isfinite(float(value)) else NOT_FINITE
        return entry.why(value)

    def problem(self, name: str, value: float) -> str | None:
        """``value V: why`` if ``value`` of ``name`` is not acceptable, else None."""
        why = self.why(name, value)
        return None if why is None else f"value {format_number(value)}: {why}"

    def first_problem(self, name: str, values: Any) -> tuple[int, str] | None:
        """Position and reason (:meth:`why`) of the first unacceptable value; NaN is missing."""
        v = np.asarray(values, dtype=float)
        entry = self._entries.get(name)
        bad = np.isinf(v)
        if entry is not None:
            with np.errstate(invalid="ignore"):
                for lo, hi in (entry.possible, (entry.low, entry.high)):
                    if lo is not None:
                        bad |= v < lo
                    if hi is not None:
                        bad |= v > hi
        if not bad.any():
            return None
        i = int(np.flatnonzero(bad)[0])
        why = self.why(name, float(v[i]))
        assert why is not None
        return i, why


def _unknown(name: str, known: Iterable[str]) -> InputError:
    close = difflib.get_close_matches(name, list(known), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return InputError(f"--range {name}: no such range{hint}")


def parse_range_option(text: str, table: Ranges | None = None) -> tuple[str, tuple[float, float]]:
    """``NAME=LOW:HIGH`` → (name, (low, high)); an empty side keeps that bound of ``table``.

    ``inf`` / ``-inf`` remove a bound.
    """
    table = RANGES if table is None else table
    name, sep, span = text.partition("=")
    name = name.strip()
    low_text, colon, high_text = span.partition(":")
    if not sep or not colon or not name:
        raise InputError(f"--range {text!r}: expected NAME=LOW:HIGH, e.g. upcr_g_per_g=0:80")
    if name not in table:
        raise _unknown(name, table)
    entry = table[name]

    def side(part: str, current: Bound, unbounded: float) -> float:
        part = part.strip()
        if not part:
            return unbounded if current is None else current
        try:
            return float(part)
        except ValueError:
            raise InputError(f"--range {text!r}: {part!r} is not a number") from None

    return name, (side(low_text, entry.low, -math.inf), side(high_text, entry.high, math.inf))


def ranges_from_options(options: Iterable[str], table: Ranges | None = None) -> Ranges:
    """The table with every ``NAME=LOW:HIGH`` option applied."""
    table = RANGES if table is None else table
    changes = dict(parse_range_option(o, table) for o in options)
    return table.override(changes) if changes else table


def _assumption(why: str) -> str:
    return f"assumption: {why}"


_LAB: tuple[Range, ...] = (
    Range(
        "age_years",
        "years",
        0.0,
        120.0,
        _assumption(
            "the oldest verified human lived 122 years; a birth year typed as an age fails"
        ),
    ),
    Range(
        "weight_kg",
        "kg",
        0.3,
        650.0,
        _assumption(
            "from an extremely preterm newborn (~0.3 kg) to the heaviest recorded humans "
            "(~635 kg); grams typed as kg fail"
        ),
    ),
    Range(
        "height_cm",
        "cm",
        20.0,
        280.0,
        _assumption("preterm newborn (~25 cm) to the tallest recorded human (272 cm)"),
    ),
    Range(
        "upcr_g_per_g",
        "g/g",
        0.0,
        50.0,
        _assumption(
            "nephrotic-range proteinuria starts at 3 g/g (KDIGO 2021 glomerular diseases "
            "guideline); above 20-30 g/g is exceptional; mg/g typed as g/g (x1000) fails"
        ),
    ),
    Range(
        "protein_24h_g",
        "g/day",
        0.0,
        50.0,
        _assumption("as upcr_g_per_g: nephrotic range > 3.5 g/day, above 30 g/day exceptional"),
    ),
    Range(
        "creatinine_mg_dl",
        "mg/dL",
        0.1,
        25.0,
        _assumption(
            "very low muscle mass (~0.2 mg/dL in infants) to untreated end-stage kidney "
            "disease (~15-20 mg/dL); umol/L typed as mg/dL (x88.4) fails"
        ),
    ),
    Range(
        "cystatin_c_mg_l",
        "mg/L",
        0.1,
        15.0,
        _assumption("reference ~0.6-1.0 mg/L, end-stage kidney disease ~5-10 mg/L"),
    ),
    Range(
        "egfr_ml_min_1_73m2",
        "mL/min/1.73m2",
        0.0,
        250.0,
        _assumption("0 (anuria) to glomerular hyperfiltration (~150-180) with margin"),
    ),
    Range(
        "egfr_preflare_ml_min_1_73m2",
        "mL/min/1.73m2",
        0.0,
        250.0,
        _assumption("as egfr_ml_min_1_73m2"),
    ),
    Range(
        "albumin_g_l",
        "g/L",
        5.0,
        70.0,
        _assumption(
            "reference 35-50 g/L, severe nephrotic syndrome ~10 g/L; g/dL typed as g/L fails"
        ),
    ),
    Range(
        "c3_g_l",
        "g/L",
        0.0,
        5.0,
        _assumption(
            "reference ~0.9-1.8 g/L, acute phase up to ~3 g/L; mg/dL typed as g/L (x100) fails"
        ),
    ),
    Range("c4_g_l", "g/L", 0.0, 2.0, _assumption("reference ~0.1-0.4 g/L; mg/dL typed fails")),
    Range("c3_lln_g_l", "g/L", 0.0, 5.0, _assumption("an assay's C3 limit, as c3_g_l")),
    Range("c4_lln_g_l", "g/L", 0.0, 2.0, _assumption("an assay's C4 limit, as c4_g_l")),
    Range(
        "anti_dsdna_iu_ml",
        "IU/mL",
        0.0,
        100000.0,
        _assumption("assays report up to a few thousand IU/mL; margin for diluted re-runs"),
    ),
    Range(
        "anti_dsdna_uln_iu_ml",
        "IU/mL",
        0.0,
        1000.0,
        _assumption("assay cut-offs are ~10-100 IU/mL"),
    ),
    Range(
        "anti_dsdna_farr_pct",
        "%",
        0.0,
        100.0,
        "a percentage of DNA bound (Farr assay)",
        possible=(0.0, 100.0),
    ),
    Range(
        "platelets_1e9_l",
        "1e9/L",
        0.0,
        3000.0,
        _assumption("reference 150-400; essential thrombocythaemia rarely exceeds 2,000"),
    ),
    Range(
        "wbc_1e9_l",
        "1e9/L",
        0.0,
        1000.0,
        _assumption("reference 4-11; leukaemic hyperleukocytosis can exceed 100-500"),
    ),
    Range(
        "lymphocytes_1e9_l",
        "1e9/L",
        0.0,
        1000.0,
        _assumption("reference 1-4; chronic lymphocytic leukaemia can exceed 100-500"),
    ),
    Range(
        "haemoglobin_g_dl",
        "g/dL",
        1.0,
        26.0,
        _assumption("survivable anaemia (~2 g/dL) to polycythaemia (~24 g/dL); g/L typed fails"),
    ),
    Range(
        "urine_rbc_per_hpf",
        "/HPF",
        0.0,
        1000.0,
        _assumption("'too numerous to count' is ~100/HPF; margin"),
    ),
    Range(
        "urine_wbc_per_hpf",
        "/HPF",
        0.0,
        1000.0,
        _assumption("'too numerous to count' is ~100/HPF; margin"),
    ),
    Range(
        "temperature_c",
        "degC",
        25.0,
        45.0,
        _assumption(
            "core temperature at a visit; outside 25-45 degC is not survivable outside "
            "intensive care; degF typed as degC (98.6) fails"
        ),
        possible=(None, None),
    ),
    Range(
        "prednisone_mg_day",
        "mg/day",
        0.0,
        1500.0,
        _assumption(
            "prednisone equivalent of IV methylprednisolone pulses up to 1,000 mg/day "
            "(x1.25 = 1,250 mg) with margin"
        ),
    ),
    Range(
        S.STUDY_DAY,
        "days",
        -36525.0,
        36525.0,
        _assumption("a century either side of day 1; a date serial or timestamp fails"),
        possible=(None, None),
    ),
)

_SCALES: tuple[Range, ...] = (
    Range("pga", "", 0.0, 3.0, "PGA 0-3 scale (SPEC §5)", possible=(0.0, 3.0)),
    Range(
        "arthritis_joints",
        "joints",
        0.0,
        66.0,
        "the 66 swollen-joint count (assumption: the largest joint count in use)",
        possible=(0.0, 66.0),
    ),
    Range("sdi", "points", 0.0, 47.0, "SLICC/ACR Damage Index maximum", possible=(0.0, 47.0)),
    *(
        Range(
            item,
            "points",
            0.0,
            float(points),
            "SLICC/ACR Damage Index item maximum (Gladman 1996)",
            possible=(0.0, float(points)),
        )
        for item, points in S.SDI_ITEMS.items()
    ),
    Range(
        "sledai2k", "points", 0.0, 105.0, "SLEDAI-2K maximum (Gladman 2002)", possible=(0.0, 105.0)
    ),
    Range("treg_pct_cd4", "% CD4", 0.0, 100.0, "a percentage", possible=(0.0, 100.0)),
    Range("th17_pct_cd4", "% CD4", 0.0, 100.0, "a percentage", possible=(0.0, 100.0)),
)


def _dose(name: str, unit: str, maximum: float, source: str, basis: str = "label maximum") -> Range:
    return Range(
        name,
        unit,
        0.0,
        maximum * DOSE_MARGIN,
        f"{source}; {basis} {format_number(maximum)} {unit} x {DOSE_MARGIN:g}",
    )


_DOSES: tuple[Range, ...] = (
    _dose(
        "dose_prednisone_mg_per_day",
        "mg/day",
        60.0,
        "prednisone tablets label: initial 5-60 mg/day",
    ),
    _dose(
        "dose_methylprednisolone_mg_per_day",
        "mg/day",
        1000.0,
        "IV pulses of 250-1,000 mg/day in lupus nephritis (EULAR/ERA-EDTA 2019: "
        "500-2,500 mg in total)",
        "usual maximum per day",
    ),
    _dose(
        "dose_mycophenolate_g_per_day",
        "g/day",
        3.0,
        "mycophenolate mofetil label: up to 1.5 g twice daily",
    ),
    _dose(
        "dose_azathioprine_mg_per_kg_day",
        "mg/kg/day",
        5.0,
        "azathioprine label: 3-5 mg/kg/day initially after renal transplantation",
    ),
    _dose(
        "dose_hydroxychloroquine_mg_per_day",
        "mg/day",
        400.0,
        "hydroxychloroquine label for lupus: 200-400 mg/day (EULAR/ERA-EDTA 2019: at most "
        "5 mg/kg/day)",
    ),
    _dose(
        "dose_cyclophosphamide_mg_per_kg",
        "mg/kg",
        50.0,
        "cyclophosphamide injection label: 40-50 mg/kg per course",
    ),
    _dose(
        "dose_cyclophosphamide_g_per_m2",
        "g/m2",
        2.0,
        "label 50 mg/kg at 70 kg and 1.8 m2 (assumption) is ~2 g/m2; NIH lupus pulses 0.5-1 g/m2",
        "derived maximum",
    ),
    _dose(
        "dose_cyclophosphamide_mg",
        "mg",
        5000.0,
        "label 50 mg/kg for a 100 kg patient (assumption: 100 kg)",
        "derived maximum",
    ),
    _dose(
        "dose_msc_cells_per_kg",
        "cells/kg",
        1e7,
        "assumption, no label: MSC trials give 0.5-10 x 10^6 cells/kg (SLE: 10^6/kg, Sun 2009)",
        "assumed maximum",
    ),
    _dose(
        "dose_msc_cells",
        "cells",
        1e9,
        "assumption, no label: 10^7 cells/kg for a 100 kg patient",
        "assumed maximum",
    ),
    Range(
        "sample_size",
        "subjects",
        1.0,
        1e7,
        _assumption("lupus trials enrol up to ~1,000; 10^7 virtual patients exceeds a run"),
    ),
    Range(
        "follow_up_weeks",
        "weeks",
        0.0,
        2609.0,
        _assumption("50 years of follow-up; longer is a unit slip"),
    ),
    Range(
        "discontinuation_per_year",
        "1/year",
        0.0,
        10.0,
        _assumption("a hazard of 10/year (median stay 5 weeks) exceeds any trial's dropout"),
    ),
)

#: The default table.
RANGES = Ranges((*_LAB, *_SCALES, *_DOSES))


def ranges_markdown(table: Ranges | None = None) -> str:
    """The range table as a Markdown table (docs/clinical.md carries this text)."""
    table = RANGES if table is None else table
    lines = [
        "| name | unit | plausible | possible | source |",
        "|---|---|---|---|---|",
    ]
    for entry in table.values():
        if entry.name.startswith("sdi_"):
            continue
        lines.append(
            f"| `{entry.name}` | {entry.unit or '-'} | {_span(entry.low, entry.high, '')} | "
            f"{_span(*entry.possible, '')} | {entry.source} |"
        )
    lines.append(
        "| `sdi_<item>` | points | 0 to the item's points | same | SLICC/ACR Damage Index "
        "item maximum (Gladman 1996) |"
    )
    return "\n".join(lines) + "\n"
