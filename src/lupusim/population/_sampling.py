"""Between-subject variability: log-normal multipliers around a preset's values."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from lupusim.model import Preset


def sample_parameters(
    preset: Preset,
    n: int,
    rng: np.random.Generator,
    cv: Mapping[str, float] | None = None,
) -> np.ndarray:
    """``(n, P)`` parameter vectors: each varied parameter is log-normal with median at
    the preset's value and coefficient of variation ``cv[name]`` (default: the preset's
    ``variability_cv``), then each of the preset's ``subgroups`` is multiplied by its
    factor in a random share of subjects (drawn after the log-normal multipliers).
    Parameters not listed are the preset's value for everyone."""
    base = preset.parameter_vector()
    out = np.tile(base, (n, 1))
    for name, c in (cv if cv is not None else preset.variability_cv).items():
        if c <= 0:
            continue
        sigma = float(np.sqrt(np.log1p(c * c)))
        j = preset.model.parameter_index(name)
        out[:, j] = base[j] * np.exp(rng.normal(0.0, sigma, size=n))
    for name, group in preset.subgroups.items():
        j = preset.model.parameter_index(name)
        member = rng.uniform(size=n) < group.share
        out[member, j] *= group.factor
    return out


def set_parameter(preset: Preset, parameters: np.ndarray, name: str, value: float) -> None:
    """Set one named parameter in every row of ``parameters`` (in place)."""
    parameters[..., preset.model.parameter_index(name)] = value
