"""A posterior ensemble of the human model's calibrated parameters, and how to summarise
any output across it.

``lupusim calibrate posterior`` (:mod:`lupusim.calibrate._laplace`) writes parameter sets
drawn from the posterior around the installed human fit (``posterior_human.json``, in
the package data with ``--install``). Anything that reruns the model under those sets —
a virtual trial (``lupusim trial run --uncertainty``), the Sun 2009 projection
(``lupusim reproduce sun2009 --uncertainty``) — loads them with :func:`load_ensemble`,
which refuses a file whose mode is not the fit the human preset uses, and reports an
output's spread across them with :func:`model_interval`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lupusim.errors import LupusimError
from lupusim.model._presets import Preset, get_preset, installed_human_posterior

#: Model interval: this central share of the draws (5th-95th percentile).
MODEL_INTERVAL = 0.90
#: Relative difference between the posterior's mode and the installed fit above which
#: the posterior belongs to another fit.
_MODE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class PosteriorEnsemble:
    """Parameter sets drawn from a posterior, and where they come from."""

    source: str
    method: str
    draws: tuple[Mapping[str, float], ...]
    #: the posterior file's importance-sampling check (``lupusim calibrate posterior
    #: --check``): a sentence, or None when the file has none
    check: str | None = None

    def __len__(self) -> int:
        return len(self.draws)

    def first(self, n: int) -> tuple[Mapping[str, float], ...]:
        """The first ``n`` parameter sets; a :class:`LupusimError` when there are fewer."""
        if n > len(self.draws):
            raise LupusimError(
                f"--uncertainty {n}: the posterior holds {len(self.draws)} parameter sets"
            )
        return self.draws[:n]


def load_ensemble(path: Path | None = None, *, preset: Preset | None = None) -> PosteriorEnsemble:
    """The parameter sets of ``path`` (a ``posterior_human.json`` written by
    ``lupusim calibrate posterior``), default the one installed with the package.

    Raises :class:`LupusimError` when there is none, it holds no draws, or its mode is
    not the fit the human preset uses (the draws would scatter around another fit).
    """
    if path is None:
        payload = installed_human_posterior()
        source = "installed posterior_human.json (lupusim calibrate posterior --install)"
        if payload is None:
            raise LupusimError(
                "no posterior is installed; run `lupusim calibrate posterior --out DIR "
                "--install` first, or pass --posterior FILE"
            )
    else:
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LupusimError(f"--posterior {path}: cannot be read as JSON ({exc})") from exc
        source = str(path)
    if not isinstance(payload, dict) or not isinstance(payload.get("draws"), list):
        raise LupusimError(f"{source}: no 'draws' list (not a lupusim posterior file)")
    draws = tuple(
        {str(k): float(v) for k, v in d.items()} for d in payload["draws"] if isinstance(d, dict)
    )
    if not draws:
        raise LupusimError(f"{source}: the posterior holds no parameter sets")
    base = preset or get_preset("human")
    unknown = sorted(set().union(*draws) - set(base.values))
    if unknown:
        raise LupusimError(f"{source}: parameters the human model lacks: {', '.join(unknown)}")
    stale = [
        p["name"]
        for p in payload.get("parameters", [])
        if isinstance(p, dict)
        and p.get("name") in base.values
        and not math.isclose(
            float(p["value"]), base.values[p["name"]].value, rel_tol=_MODE_TOLERANCE
        )
    ]
    if stale:
        raise LupusimError(
            f"{source}: its mode differs from the installed human fit in {', '.join(stale)}; "
            "rerun `lupusim calibrate posterior` on the current fit"
        )
    return PosteriorEnsemble(
        source, str(payload.get("method", "unknown")), draws, check_summary(payload.get("check"))
    )


def check_summary(check: Any) -> str | None:
    """One sentence on a posterior file's importance-sampling check."""
    if not isinstance(check, Mapping):
        return None
    k = check.get("pareto_k")
    return (
        f"importance-sampling check of the approximation at "
        f"{check.get('draws_evaluated')} evaluated draws: Pareto k-hat "
        f"{'NA' if k is None else f'{float(k):.2f}'} ({check.get('verdict')}), effective "
        f"sample size {float(check.get('effective_sample_size', 0.0)):.1f}"
    )


def finite_values(values: Sequence[Any]) -> np.ndarray:
    x = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    return x[np.isfinite(x)]


def model_interval(values: Sequence[Any]) -> dict[str, Any]:
    """Median and :data:`MODEL_INTERVAL` central interval of one quantity across draws."""
    x = finite_values(values)
    if x.size == 0:
        return {"median": None, "interval90": [None, None], "n_draws": 0}
    tail = (1.0 - MODEL_INTERVAL) / 2.0
    lo, mid, hi = np.quantile(x, [tail, 0.5, 1.0 - tail])
    return {"median": float(mid), "interval90": [float(lo), float(hi)], "n_draws": int(x.size)}


Bounds = tuple[float | None, float | None]
UNIT_INTERVAL: Bounds = (0.0, 1.0)
UNBOUNDED: Bounds = (None, None)


def centred(
    estimate: Any,
    reference: Any,
    draws: Sequence[Any],
    *,
    ratio: bool = False,
    bounds: Bounds = UNBOUNDED,
) -> list[float | None]:
    """Each draw's change from the reference (the fitted parameters on the draws' own
    patients) applied to the main run's estimate: ``estimate + (draw − reference)``, or
    ``estimate × draw / reference`` for ratios, clipped to ``bounds``. The draws share
    their patients, so their raw values all carry that subsample's sampling luck; the
    change from the reference removes it and leaves the parameters' effect, placed at
    the main run's larger sample. Without a usable estimate or reference the raw draws
    are returned."""
    est, ref = _number(estimate), _number(reference)
    usable = est is not None and ref is not None and (not ratio or (est > 0 and ref > 0))
    out: list[float | None] = []
    for d in draws:
        x = _number(d)
        if x is not None and usable and est is not None and ref is not None:
            x = _shift(est, ref, x, ratio)
        out.append(None if x is None else _clip(x, bounds))
    return out


def _shift(estimate: float, reference: float, draw: float, ratio: bool) -> float | None:
    if not ratio:
        return estimate + (draw - reference)
    return estimate * draw / reference if draw > 0 else None


def _clip(x: float, bounds: Bounds) -> float:
    lo, hi = bounds
    x = max(x, lo) if lo is not None else x
    return min(x, hi) if hi is not None else x


def _number(x: Any) -> float | None:
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def rescaled_parameters(
    preset: Preset, parameters: np.ndarray, values: Mapping[str, float]
) -> np.ndarray:
    """Subjects' parameter vectors (rows, in the order of ``preset.model``) with
    ``values`` applied: each named column is multiplied by ``value / preset value``, so a
    between-subject-variable parameter keeps every subject's own deviate (and subgroup
    factor) around the new median and a fixed one takes the new value. Names that are
    not model parameters (process parameters) are ignored here: they act through the
    preset (:meth:`Preset.with_numbers`)."""
    model = preset.model
    out = np.array(parameters, dtype=float, copy=True)
    for name, value in values.items():
        if name in model.parameter_names:
            base = preset.values[name].value
            if base <= 0:
                raise ValueError(f"{name}: cannot scale a parameter whose preset value is 0")
            out[..., model.parameter_index(name)] *= value / base
    return out
