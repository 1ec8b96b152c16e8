"""Values as report text: numbers, estimates with CIs, p-values, counts, JSON.

Every report cell goes through these, so a missing value reads ``—`` everywhere and a
number is never written with more digits than its magnitude warrants. Inputs are what
``summary.json`` holds: JSON scalars, lists and objects, where any number may be null.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

MISSING = "—"


def fmt(value: Any) -> str:
    """A compact, human-readable rendering of any summary value (``—`` for none)."""
    if value is None:
        return MISSING
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        x = float(value)
        if math.isnan(x):
            return MISSING
        return f"{x:.4g}"
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and all(
        v is None or isinstance(v, str | int | float | bool) for v in value
    ):
        return ", ".join(fmt(v) for v in value)
    return json_text(value, limit=300)


def json_text(value: Any, *, limit: int) -> str:
    """``value`` as one line of JSON, cut to ``limit`` characters."""
    try:
        text = json.dumps(value, default=str, ensure_ascii=False, indent=None)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text(value: Any) -> str:
    """``str(value)``, with None as the empty string."""
    return "" if value is None else str(value)


def get(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]...`` or None where any level is missing or not a mapping."""
    for key in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def mappings(raw: Any) -> list[Mapping[str, Any]]:
    """The mappings of a list (anything else: none)."""
    return [x for x in raw if isinstance(x, Mapping)] if isinstance(raw, list) else []


def finite(value: Any) -> float | None:
    """A finite float, or None (JSON null, NaN, text, bool)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def decimals_for(scale: float) -> int | None:
    """Decimals for numbers of this magnitude; None: use significant digits."""
    if scale == 0 or scale >= 100:
        return 0 if scale >= 100 else 2
    if scale >= 10:
        return 1
    if scale >= 0.01:
        return 2
    return None


def number(value: Any, decimals: int | None = -1) -> str:
    """One number, compact: ``—`` for a missing one. ``decimals=-1`` picks by magnitude."""
    x = finite(value)
    if x is None:
        return MISSING
    if decimals == -1:
        decimals = decimals_for(abs(x))
    out = f"{x:.2g}" if decimals is None else f"{x:,.{decimals}f}"
    if out.startswith("-"):
        out = "−" + out[1:]
    return out[1:] if out.startswith("−") and not out.strip("−0.,") else out


def interval(low: Any, high: Any, decimals: int | None) -> str:
    """``0.57–0.70``, or ``−0.36 to −0.23`` when a bound is negative."""
    lo, hi = number(low, decimals), number(high, decimals)
    if lo == MISSING and hi == MISSING:
        return "no CI"
    joiner = " to " if lo.startswith("−") or hi.startswith("−") else "–"
    return f"{lo}{joiner}{hi}"


def pair(ci: Any) -> tuple[float | None, float | None]:
    """The two finite bounds of a ``[low, high]`` list (None where missing)."""
    if isinstance(ci, Sequence) and not isinstance(ci, str) and len(ci) == 2:
        return finite(ci[0]), finite(ci[1])
    return None, None


def estimate_ci(estimate: Any, ci: Any, *, scale: float = 1.0) -> str:
    """``0.64 (0.57–0.70)``: the estimate and its 95 % CI with common decimals."""
    lo, hi = pair(ci)
    values = [v * scale for v in (finite(estimate), lo, hi) if v is not None]
    if not values:
        return MISSING
    decimals = decimals_for(max(abs(v) for v in values))
    est = finite(estimate)
    out = number(None if est is None else est * scale, decimals)
    if lo is None and hi is None:
        return out
    low = None if lo is None else lo * scale
    high = None if hi is None else hi * scale
    return f"{out} ({interval(low, high, decimals)})"


def p_value(value: Any) -> str:
    """``0.045``, ``< 0.001`` or ``—``."""
    p = finite(value)
    if p is None:
        return MISSING
    if p < 0.001:
        return "< 0.001"
    return f"{p:.3f}"


def count(value: Any, *, grouped: bool = True) -> str:
    """A whole number (``1,234``; ``grouped=False``: ``1234``) or ``—``."""
    x = finite(value)
    if x is None:
        return MISSING
    return f"{round(x):,d}" if grouped else str(round(x))


def percent(part: Any, whole: Any) -> str:
    """``12.5 %`` of ``whole``; empty when either is missing or ``whole`` is not positive."""
    a, b = finite(part), finite(whole)
    if a is None or b is None or b <= 0:
        return ""
    return f"{100.0 * a / b:.1f} %"
