"""Sun 2009, mouse part: MRL/lpr natural history, MSCT versus cyclophosphamide.

Design (../shared/science/README.md §1): female MRL/lpr from 4 weeks of age; groups
followed to 20 weeks of age, ``untreated`` also to 40 weeks for survival.

Assumptions stated here (no source gives them):
* ``ctx``: 200 mg/kg i.p. every 2 weeks from week 9 to week 19 (6 injections) — the
  seed gives the dose (200 µg/g) and start (week 9) but not the schedule.
* MSC dose 1×10⁶ donor BMMSC per mouse (Gu 2010; Liu 2020), healthy allogeneic source.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lupusim.engine import SimulationResult, simulate
from lupusim.model import get_preset
from lupusim.observe import alive_matrix, first_crossing_times
from lupusim.population import sample_parameters
from lupusim.treatments import Cyclophosphamide, MSCInfusion, Regimen

DAYS_PER_WEEK = 7.0
START_AGE_DAYS = 28.0
END_AGE_DAYS = 20 * DAYS_PER_WEEK
SURVIVAL_END_AGE_DAYS = 40 * DAYS_PER_WEEK
MSC_CELLS_PER_MOUSE = 1.0e6
CTX_MG_PER_KG = 200.0
CTX_WEEKS = (9, 11, 13, 15, 17, 19)
#: Virtual mice per group of ``lupusim reproduce sun2009`` (``--per-group``). The cohort is
#: a Monte Carlo sample of the model, not a copy of the papers' groups: M1–M6 are colony
#: values of the strain (JAX phenotyping n = 163 for M5), and M7–M13 directions of group
#: medians with no published effect size. At 12 animals the sampling SD of a survival
#: fraction near 0.4 is 0.14 (70 % of M1's ±0.2 tolerance) and that of the mean age at
#: death 1.4 weeks (deaths spread with SD ~5 weeks), so whether a seed agreed was mostly
#: the luck of its draws. At 200 they are 0.035 and 0.35 weeks, under a fifth of the
#: tolerances; the mouse part then takes a few seconds.
DEFAULT_PER_GROUP = 200

MOUSE_VARIABLES = (
    "urine_acr_mg_g",
    "creatinine_mg_dl",
    "anti_dsdna_iu_ml",
    "c3_g_l",
    "treg_pct_cd4",
    "th17_pct_cd4",
    "bone_bv_tv_pct",
    "host_msc_function",
    "donor_msc_cells",
    "renal_activity",
)


@dataclass(frozen=True)
class MouseGroup:
    """One experimental group: preset, regimen and follow-up."""

    name: str
    preset: str
    regimen: Regimen
    end_age_days: float = END_AGE_DAYS


def mouse_groups() -> tuple[MouseGroup, ...]:
    """The six groups of the reproduction, named as in issue 2."""
    wk = DAYS_PER_WEEK
    ctx = tuple(Cyclophosphamide(w * wk, dose_mg_per_kg=CTX_MG_PER_KG) for w in CTX_WEEKS)
    return (
        MouseGroup("untreated", "mrl_lpr", Regimen("untreated"), SURVIVAL_END_AGE_DAYS),
        MouseGroup("ctx", "mrl_lpr", Regimen("ctx", ctx)),
        MouseGroup(
            "msct_week9",
            "mrl_lpr",
            Regimen("msct_week9", (MSCInfusion(9 * wk, cells=MSC_CELLS_PER_MOUSE),)),
        ),
        MouseGroup(
            "msct_week16",
            "mrl_lpr",
            Regimen("msct_week16", (MSCInfusion(16 * wk, cells=MSC_CELLS_PER_MOUSE),)),
        ),
        MouseGroup("healthy_strain", "healthy_strain", Regimen("none")),
        MouseGroup("msc_restored", "mrl_lpr_msc_restored", Regimen("none")),
    )


@dataclass(frozen=True)
class MouseGroupResult:
    """Simulated cohort of one group, with sampled deaths."""

    group: MouseGroup
    result: SimulationResult
    observables: dict[str, np.ndarray]
    death_age_days: np.ndarray
    alive: np.ndarray

    @property
    def times(self) -> np.ndarray:
        return self.result.times

    def at_age(self, name: str, age_days: float, alive_only: bool = True) -> np.ndarray:
        """Values of ``name`` at ``age_days`` (alive animals only by default)."""
        i = int(np.argmin(np.abs(self.times - age_days)))
        values = self.observables[name][:, i]
        if alive_only:
            values = values[self.alive[:, i] == 1.0]
        return values[np.isfinite(values)]


def simulate_mouse_group(
    group: MouseGroup,
    n: int,
    rng: np.random.Generator,
    workers: int = 1,
    parameters: np.ndarray | None = None,
) -> MouseGroupResult:
    """Simulate ``n`` animals of ``group`` with between-animal variability."""
    preset = get_preset(group.preset)
    params = sample_parameters(preset, n, rng) if parameters is None else parameters
    y0 = np.array([preset.initial_state(p) for p in params])
    times = np.arange(START_AGE_DAYS, group.end_age_days + 0.5, 1.0)
    res = simulate(
        preset.model,
        params,
        y0,
        [group.regimen] * n,
        times,
        workers=workers,
        progress=f"mouse {group.name}" if n >= 200 else False,
    )
    obs = res.observables()
    death = first_crossing_times(times, obs["cum_hazard_death"], rng.exponential(1.0, size=n))
    return MouseGroupResult(group, res, obs, death, alive_matrix(times, death))


def mouse_trajectories(results: dict[str, MouseGroupResult]) -> pd.DataFrame:
    """Long-format trajectories of every group (``time_days`` = age in days)."""
    frames = []
    for name, gr in results.items():
        n, t = gr.alive.shape
        variables = {v: gr.observables[v] for v in MOUSE_VARIABLES}
        variables["alive"] = gr.alive
        for var, values in variables.items():
            frames.append(
                pd.DataFrame(
                    {
                        "study": "mouse",
                        "group": name,
                        "subject": np.repeat([f"{name}-{i + 1:03d}" for i in range(n)], t),
                        "time_days": np.tile(gr.times, n),
                        "variable": var,
                        "value": values.reshape(-1),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)
