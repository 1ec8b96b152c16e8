"""Calibration targets as typed rows, with the interval each is judged by.

Rows come from the package's copy of ../shared/science/targets.csv
(``lupusim/data/targets.csv``), the published baseline tables added with their citations
(``lupusim/data/baseline_targets.csv``, same columns) and rows derived from the patient
data of access_upcr.csv (:mod:`lupusim.calibrate._access`).

The interval of a row is what "within" means in the goodness-of-fit table:

* ``sd``: value ± 1 SD (the published spread across patients);
* ``se``: value ± 1.96 SE;
* ``iqr``, ``range``, ``ci95``, ``bootstrap95``: the published bounds;
* a proportion with a trial size ``n`` and no spread: the Wilson 95 % interval at ``n``.

The *scale* of a residual is the standard error of the published statistic (the
uncertainty of the number itself): SD/√n for means, the Wilson half-width / 1.96 for
proportions, the normal approximation of a median's SE (1.2533 · IQR/1.349 / √n) for
medians with an IQR, and (upper − lower) / 3.92 for 95 % intervals.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

from lupusim.errors import InputError

TARGET_COLUMNS = (
    "id",
    "species",
    "population",
    "arm",
    "quantity",
    "statistic",
    "unit",
    "time",
    "value",
    "spread",
    "spread_kind",
    "n",
    "source",
    "tag",
)
TARGET_FILES = ("targets.csv", "baseline_targets.csv")
Z95 = 1.959963984540054


@dataclass(frozen=True)
class TargetRow:
    """One published number: ``value`` (float where numeric) with spread and size."""

    id: str
    species: str
    population: str
    arm: str
    quantity: str
    statistic: str
    unit: str
    time: str
    value: float
    spread: tuple[float, float] | float | None
    spread_kind: str
    n: int | None
    source: str
    tag: str
    file: str = "targets.csv"

    def interval(self) -> tuple[float, float]:
        """The interval the simulated statistic must fall in to count as "within"."""
        kind, s, v = self.spread_kind, self.spread, self.value
        if kind == "sd" and isinstance(s, float):
            return v - s, v + s
        if kind == "se" and isinstance(s, float):
            return v - Z95 * s, v + Z95 * s
        if isinstance(s, tuple):
            return s
        if self.statistic == "proportion" and self.n:
            return wilson_interval(v, self.n)
        raise ValueError(f"target {self.id}: no spread and no n to judge a fit by")

    def standard_error(self) -> float:
        """Uncertainty of the published statistic itself (the residual's scale)."""
        kind, s, v, n = self.spread_kind, self.spread, self.value, self.n
        if kind == "sd" and isinstance(s, float):
            return s / math.sqrt(n) if n else s
        if kind == "se" and isinstance(s, float):
            return s
        if kind == "iqr" and isinstance(s, tuple):
            sd = (s[1] - s[0]) / 1.349
            return 1.2533 * sd / math.sqrt(n) if n else sd
        if kind in ("ci95", "bootstrap95") and isinstance(s, tuple):
            return (s[1] - s[0]) / (2 * Z95)
        if kind == "range" and isinstance(s, tuple):
            sd = (s[1] - s[0]) / 4.0  # range ≈ 4 SD (a rough rule, stated)
            return sd / math.sqrt(n) if n else sd
        if self.statistic == "proportion" and n:
            lo, hi = wilson_interval(v, n)
            return (hi - lo) / (2 * Z95)
        raise ValueError(f"target {self.id}: no spread and no n to weight it by")


def wilson_interval(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``p`` observed in ``n`` (Wilson 1927)."""
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _parse_spread(text: str, kind: str, where: str) -> tuple[float, float] | float | None:
    text = text.strip()
    if not text:
        return None
    try:
        if kind in ("sd", "se"):
            return float(text)
        lo, hi = (float(x) for x in text.split("-", 1))
    except ValueError:
        raise InputError(f"{where}, column spread: {text!r} is not a number or 'lo-hi'") from None
    if not lo <= hi:
        raise InputError(f"{where}, column spread: lower bound above upper ({text!r})")
    return lo, hi


def parse_rows(text: str, file: str) -> list[TargetRow]:
    """Rows of one targets file; every malformed cell is a one-line error."""
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != TARGET_COLUMNS:
        raise InputError(f"{file}: columns must be {', '.join(TARGET_COLUMNS)}")
    rows: list[TargetRow] = []
    for line, raw in enumerate(reader, start=2):
        where = f"{file}, row {line}"
        try:
            value = float(raw["value"])
        except ValueError:
            value = math.nan  # directions, onsets as ranges: not numeric targets
        n_text = raw["n"].strip()
        try:
            n = int(n_text) if n_text else None
        except ValueError:
            raise InputError(f"{where}, column n: {n_text!r} is not an integer") from None
        rows.append(
            TargetRow(
                id=raw["id"],
                species=raw["species"],
                population=raw["population"],
                arm=raw["arm"],
                quantity=raw["quantity"],
                statistic=raw["statistic"],
                unit=raw["unit"],
                time=raw["time"],
                value=value,
                spread=_parse_spread(raw["spread"], raw["spread_kind"], where),
                spread_kind=raw["spread_kind"],
                n=n,
                source=raw["source"],
                tag=raw["tag"],
                file=file,
            )
        )
    return rows


@cache
def package_targets() -> dict[str, TargetRow]:
    """All rows of the package's target files, by id (ids are unique across files)."""
    out: dict[str, TargetRow] = {}
    for name in TARGET_FILES:
        path = resources.files("lupusim").joinpath(f"data/{name}")
        if not path.is_file():
            continue
        for row in parse_rows(path.read_text(encoding="utf-8"), name):
            if row.id in out:
                raise InputError(f"{name}: target id {row.id} also in {out[row.id].file}")
            out[row.id] = row
    return out
