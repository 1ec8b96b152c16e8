"""The observation model: simulated trajectories → the visit table a trial site would send.

:func:`observe_visits` samples what a site records at each scheduled visit — on a day
within the protocol window, with laboratory measurement noise and with organ descriptors
that are present with a probability rising with the organ activity — in the visit-table
schema of ../shared/DESIGN.md ("Visit table"), so that :func:`lupusim.clinical.score_visits`
scores virtual patients with the code used for real data. :func:`lupusim.observe.visit_table`
(expected values, no noise) is unchanged; :meth:`ObservationModel.noiseless` reproduces it.

Every default below is an **assumption** (none was found in ../shared/science or
../shared/clinical); each carries a one-line provenance string in
:data:`LAB_CV_PROVENANCE`, :data:`DESCRIPTOR_SCALE_PROVENANCE` and
:data:`VISIT_WINDOW_PROVENANCE`.

Model
-----
* **Laboratory noise** (:data:`NOISED_LABS`): ``observed = true × exp(σ z − σ²/2)``,
  ``z ~ N(0, 1)``, ``σ² = log(1 + CV²)``: log-normal, positive, mean-preserving
  (``E[observed] = true``; the median is ``true × exp(−σ²/2)``). Independent across labs,
  visits and subjects. Urine sediment counts stay continuous (not rounded to counts).
* **eGFR** is never noised on its own: it is the CKD-EPI 2021 equation
  (:func:`lupusim.clinical.egfr.ckd_epi_2021`) of the *noisy* creatinine.
  With ``age_years`` and ``female`` given it is computed from the noisy creatinine, the age
  at the visit (``age_years + day / 365.25``) and the sex — exactly what the clinical scorer
  computes from the table's ``creatinine_mg_dl``, ``age_years`` and ``sex``. Without both,
  the model's eGFR observable is scaled by ``CKD-EPI(noisy SCr) / CKD-EPI(true SCr)``; age
  cancels in that ratio, so the result is exact when ``female`` is given (and the model's
  eGFR is the CKD-EPI 2021 eGFR of its creatinine, as in the human preset); without
  ``female`` the female κ and α are used (assumption: most SLE patients are women).
  Without a creatinine observable the eGFR observable passes through unchanged.
* ``prednisone_mg_day`` is a prescribed dose: never noised.
* **Organ descriptors** (the boolean columns of :func:`visit_table`: casts, rash, alopecia,
  mucosal ulcers, arthritis, lupus headache, fever): present with probability
  ``logistic((activity − threshold) / scale)``, independently at every visit (a real rash
  persists between visits; this model does not carry that memory). ``scale = 0`` is the
  deterministic rule ``activity > threshold`` of :func:`visit_table`; at
  ``activity == threshold`` the probability is ½.
* **Visit windows**: the actual day is ``scheduled + Uniform(−w, +w)`` with
  ``w = min(visit_window_days, (gap to a neighbouring scheduled visit − 1) / 2)`` so visits
  never swap order or share a day; the visit scheduled on day 0 (baseline) is exactly day 0;
  days are clipped to ``[max(0, times[0]), times[-1]]``. Values are linearly interpolated
  in time at the actual (unrounded) day; ``study_day`` is that day rounded half up.
* **Missing visits**: visits whose actual day is after ``last_day[i]`` (death, dropout) are
  omitted; ``lupusim.clinical`` imputes them as non-responders.

Not produced: a physician global assessment (``pga``), BILAG grades, rescue therapy and the
SLEDAI descriptors the model has no state for. Without ``pga`` the clinical scorer reports
SRI-k, BICLA, LLDAS and DORIS as not evaluable (empty) and warns; SLEDAI-2K, the SELENA
Flare Index and the renal responses are scored.

Random numbers: each call draws, in this order, one ``(N, V)`` block of uniforms for the
visit days, one block of standard normals for every lab of :data:`NOISED_LABS` and one
block of uniforms for every descriptor of :data:`DESCRIPTOR_THRESHOLDS` — always all of
them, whether or not the observable is present, its CV zero or the visit later omitted.
Hence the same generator state and inputs give an identical table, and changing one CV or
scale, dropping an observable or moving ``last_day`` leaves every other column's draws
unchanged. The draws do depend on the number of subjects ``N`` and of scheduled visits
``V`` (subject ``i``'s noise changes when subjects are added to the call).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
import pandas as pd

from lupusim.observe._sledai_approx import C3_LLN_G_L, C4_LLN_G_L
from lupusim.observe._visits import _BOOLEAN_DESCRIPTORS, _LABS, ANTI_DSDNA_ULN_IU_ML

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DAYS_PER_YEAR = 365.25
EGFR = "egfr_ml_min_1_73m2"
CREATININE = "creatinine_mg_dl"
#: never noised: eGFR is recomputed from creatinine, prednisone is a prescribed dose
NOT_NOISED: frozenset[str] = frozenset({EGFR, "prednisone_mg_day"})
#: visit-table laboratory columns that carry measurement noise, in draw order
NOISED_LABS: tuple[str, ...] = tuple(name for name in _LABS if name not in NOT_NOISED)
#: visit-table boolean column → (activity observable, threshold), from visit_table
DESCRIPTOR_THRESHOLDS: Mapping[str, tuple[str, float]] = MappingProxyType(
    dict(_BOOLEAN_DESCRIPTORS)
)

_WITHIN = "assumption: typical within-subject biological + analytic CV of"
#: default coefficient of variation (analytic + within-subject biological) per lab column
DEFAULT_LAB_CV: Mapping[str, float] = MappingProxyType(
    {
        "protein_24h_g": 0.30,
        "upcr_g_per_g": 0.25,
        "creatinine_mg_dl": 0.06,
        "albumin_g_l": 0.05,
        "urine_rbc_per_hpf": 0.40,
        "urine_wbc_per_hpf": 0.40,
        "c3_g_l": 0.10,
        "c4_g_l": 0.10,
        "anti_dsdna_iu_ml": 0.20,
        "platelets_1e9_l": 0.10,
        "wbc_1e9_l": 0.10,
        "lymphocytes_1e9_l": 0.10,
    }
)
LAB_CV_PROVENANCE: Mapping[str, str] = MappingProxyType(
    {
        "protein_24h_g": f"{_WITHIN} 24-h urine protein incl. collection error, ~30 %",
        "upcr_g_per_g": f"{_WITHIN} spot urine protein:creatinine ratio, ~25 %",
        "creatinine_mg_dl": f"{_WITHIN} serum creatinine, ~6 %",
        "albumin_g_l": f"{_WITHIN} serum albumin, ~5 %",
        "urine_rbc_per_hpf": f"{_WITHIN} urine sediment red-cell counts per HPF, ~40 %",
        "urine_wbc_per_hpf": f"{_WITHIN} urine sediment white-cell counts per HPF, ~40 %",
        "c3_g_l": f"{_WITHIN} serum complement C3, ~10 %",
        "c4_g_l": f"{_WITHIN} serum complement C4, ~10 %",
        "anti_dsdna_iu_ml": f"{_WITHIN} anti-dsDNA immunoassay titres, ~20 %",
        "platelets_1e9_l": f"{_WITHIN} platelet counts, ~10 %",
        "wbc_1e9_l": f"{_WITHIN} leukocyte counts, ~10 %",
        "lymphocytes_1e9_l": f"{_WITHIN} lymphocyte counts, ~10 %",
    }
)
#: default logistic scale per descriptor: 0.1 × its activity threshold
DEFAULT_DESCRIPTOR_SCALE: Mapping[str, float] = MappingProxyType(
    {column: round(0.1 * thr, 10) for column, (_, thr) in _BOOLEAN_DESCRIPTORS.items()}
)
DESCRIPTOR_SCALE_PROVENANCE: Mapping[str, str] = MappingProxyType(
    {
        column: (
            f"assumption: logistic scale 0.1 × threshold ({obs} > {thr:g}), so P(present) is "
            "½ at the threshold, ~0.12 at 0.8× and ~0.88 at 1.2× it"
        )
        for column, (obs, thr) in _BOOLEAN_DESCRIPTORS.items()
    }
)
DEFAULT_VISIT_WINDOW_DAYS = 3.0
VISIT_WINDOW_PROVENANCE = (
    "assumption: a ±3-day protocol visit window around each scheduled visit (baseline exact)"
)


def _frozen(values: Mapping[str, float], expected: Sequence[str], what: str) -> Mapping[str, float]:
    """Validate a name → non-negative number mapping covering exactly ``expected``."""
    names = set(values)
    unknown = sorted(names - set(expected))
    if unknown:
        why = " (eGFR follows creatinine; prednisone is a prescribed dose)"
        hint = why if set(unknown) & NOT_NOISED else ""
        raise ValueError(f"{what}: unknown column(s) {unknown}{hint}")
    missing = [name for name in expected if name not in names]
    if missing:
        raise ValueError(
            f"{what}: missing {missing}; start from the defaults, e.g. {{**DEFAULT_..., name: v}}"
        )
    out: dict[str, float] = {}
    for name in expected:
        v = float(values[name])
        if not (np.isfinite(v) and v >= 0.0):
            raise ValueError(f"{what}[{name!r}] must be finite and >= 0, got {values[name]!r}")
        out[name] = v
    return MappingProxyType(out)


@dataclass(frozen=True)
class ObservationModel:
    """Measurement noise, descriptor probabilities and visit windows (module docstring).

    ``lab_cv`` maps every column of :data:`NOISED_LABS` to its coefficient of variation
    (0 = exact); ``descriptor_scale`` maps every column of :data:`DESCRIPTOR_THRESHOLDS` to
    its logistic scale in activity units (0 = deterministic threshold); both must name all
    their columns (change one with ``{**DEFAULT_LAB_CV, "c3_g_l": 0.05}``).
    ``visit_window_days`` is the half-width ``w`` of the visit window.
    """

    lab_cv: Mapping[str, float] = field(default_factory=lambda: DEFAULT_LAB_CV)
    descriptor_scale: Mapping[str, float] = field(default_factory=lambda: DEFAULT_DESCRIPTOR_SCALE)
    visit_window_days: float = DEFAULT_VISIT_WINDOW_DAYS

    def __post_init__(self) -> None:
        object.__setattr__(self, "lab_cv", _frozen(self.lab_cv, NOISED_LABS, "lab_cv"))
        object.__setattr__(
            self,
            "descriptor_scale",
            _frozen(self.descriptor_scale, tuple(DESCRIPTOR_THRESHOLDS), "descriptor_scale"),
        )
        w = float(self.visit_window_days)
        if not (np.isfinite(w) and w >= 0.0):
            raise ValueError(f"visit_window_days must be finite and >= 0, got {w!r}")
        object.__setattr__(self, "visit_window_days", w)

    def __hash__(self) -> int:  # the mappings are read-only views; hash their items
        return hash(
            (
                tuple(self.lab_cv.items()),
                tuple(self.descriptor_scale.items()),
                self.visit_window_days,
            )
        )

    @classmethod
    def noiseless(cls) -> ObservationModel:
        """All CVs 0, all scales 0, no window: the expected values of :func:`visit_table`."""
        return cls(
            lab_cv=dict.fromkeys(NOISED_LABS, 0.0),
            descriptor_scale=dict.fromkeys(DESCRIPTOR_THRESHOLDS, 0.0),
            visit_window_days=0.0,
        )


def _interpolate(y: FloatArray, times: FloatArray, days: FloatArray) -> FloatArray:
    """Row-wise linear interpolation of ``y`` (N, T) at ``days`` (N, V) inside ``times``.

    Grid days return the grid value exactly (not ``y0 + 0 × (y1 − y0)``, which is NaN
    when the neighbour is NaN).
    """
    if len(times) == 1:
        return np.repeat(y[:, :1], days.shape[1], axis=1)
    k = np.clip(np.searchsorted(times, days, side="right") - 1, 0, len(times) - 2)
    t0, t1 = times[k], times[k + 1]
    w = (days - t0) / (t1 - t0)
    y0 = np.take_along_axis(y, k, axis=1)
    y1 = np.take_along_axis(y, k + 1, axis=1)
    with np.errstate(invalid="ignore"):
        mid = y0 + w * (y1 - y0)
    return np.asarray(np.where(w <= 0.0, y0, np.where(w >= 1.0, y1, mid)), dtype=float)


def _window_half_widths(days: FloatArray, w: float) -> FloatArray:
    """Per-visit half-width: ``w``, shrunk so neighbours stay ≥ 1 day apart; 0 at day 0."""
    gaps = np.diff(days)
    room = np.full(len(days), np.inf)
    if len(days) > 1:
        half = (gaps - 1.0) / 2.0
        room[1:] = np.minimum(room[1:], half)
        room[:-1] = np.minimum(room[:-1], half)
    out = np.minimum(w, room)
    out[days == 0.0] = 0.0
    return out


def _logistic(x: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore"):
        return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=float)


def _ckd_epi_2021(creatinine: FloatArray, age: FloatArray | float, female: BoolArray) -> FloatArray:
    from lupusim.clinical.egfr import ckd_epi_2021

    sex = np.where(female, "F", "M").astype(object)
    return ckd_epi_2021(creatinine, age, sex)


def _per_subject(values: np.ndarray | None, n: int, name: str) -> np.ndarray | None:
    if values is None:
        return None
    a = np.asarray(values)
    if a.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {a.shape}")
    return a


def observe_visits(
    observables: Mapping[str, np.ndarray],
    times: np.ndarray,
    subject_ids: Sequence[str],
    scheduled_days: Sequence[float],
    rng: np.random.Generator,
    model: ObservationModel,
    *,
    visit_labels: Sequence[str] | None = None,
    last_day: np.ndarray | None = None,
    age_years: np.ndarray | None = None,
    female: np.ndarray | None = None,
) -> pd.DataFrame:
    """The visit table a site would send: one row per subject and attended visit.

    ``observables`` are ``(N, T)`` arrays on the output grid ``times`` (days, increasing;
    for a trial day 0 = baseline). ``scheduled_days`` must be increasing, at least one day
    apart, ≥ 0 and inside ``[times[0], times[-1]]``. ``visit`` is ``visit_labels`` or
    ``"week <d/7>"`` (baseline ``"week 0"``); ``study_day`` the actual day rounded half up.
    ``last_day[i]``: visits after it are omitted (``inf`` or NaN: none omitted).
    ``age_years[i]`` is the age at day 0 of ``times``; ``female[i]`` is truthy for women;
    when given they add the columns ``age_years`` (age at the visit) and ``sex`` (F/M).
    Columns: ``subject_id, visit, study_day``, ``sex``/``age_years`` if given, each
    laboratory column of :func:`visit_table` whose observable is present (eGFR also when it
    can be computed), each descriptor whose activity observable is present, and the
    reference limits ``c3_lln_g_l, c4_lln_g_l, anti_dsdna_uln_iu_ml``. No ``pga``.
    """
    t = np.asarray(times, dtype=float)
    if t.ndim != 1 or len(t) == 0 or (len(t) > 1 and np.any(np.diff(t) <= 0)):
        raise ValueError("times must be a non-empty, strictly increasing 1-D array")
    days = np.asarray(scheduled_days, dtype=float)
    if days.ndim != 1 or len(days) == 0:
        raise ValueError("scheduled_days must be a non-empty sequence")
    if np.any(np.diff(days) < 1.0):
        raise ValueError("scheduled_days must increase by at least one day")
    if days[0] < 0.0 or days[0] < t[0] or days[-1] > t[-1]:
        raise ValueError(
            f"scheduled_days must lie in [max(0, {t[0]:g}), {t[-1]:g}] (the output times)"
        )
    n, v = len(subject_ids), len(days)
    if visit_labels is None:
        labels = [f"week {d / 7.0:g}" for d in days]
    else:
        labels = [str(x) for x in visit_labels]
        if len(labels) != v or len(set(labels)) != v:
            raise ValueError(f"visit_labels must be {v} distinct labels")
    arrays: dict[str, FloatArray] = {}
    for name, raw in observables.items():
        a = np.asarray(raw, dtype=float)
        if a.shape != (n, len(t)):
            raise ValueError(f"observable {name!r} has shape {a.shape}, expected {(n, len(t))}")
        arrays[name] = a
    end = _per_subject(last_day, n, "last_day")
    age0 = _per_subject(age_years, n, "age_years")
    fem_in = _per_subject(female, n, "female")
    fem = None if fem_in is None else np.asarray(fem_in, dtype=float) > 0.5

    # --- random draws: a fixed sequence of (N, V) blocks (module docstring) ---
    u_day = rng.random((n, v))
    z_lab = {name: rng.standard_normal((n, v)) for name in NOISED_LABS}
    u_desc = {name: rng.random((n, v)) for name in DESCRIPTOR_THRESHOLDS}

    # --- visit days ---
    half = _window_half_widths(days, model.visit_window_days)
    actual = np.clip(days + (2.0 * u_day - 1.0) * half, max(0.0, t[0]), t[-1])
    actual[:, days == 0.0] = 0.0
    study_day = np.floor(actual + 0.5).astype(np.int64)

    def at_visit(name: str) -> FloatArray:
        return _interpolate(arrays[name], t, actual)

    frame: dict[str, np.ndarray] = {
        "subject_id": np.repeat(np.asarray(subject_ids, dtype=object), v),
        "visit": np.tile(np.asarray(labels, dtype=object), n),
        "study_day": study_day.reshape(-1),
    }
    age_visit = None if age0 is None else age0.astype(float)[:, None] + actual / DAYS_PER_YEAR
    if fem is not None:
        frame["sex"] = np.repeat(np.where(fem, "F", "M").astype(object), v)
    if age_visit is not None:
        frame["age_years"] = age_visit.reshape(-1)

    values: dict[str, FloatArray] = {}
    for name in NOISED_LABS:
        if name in arrays:
            sigma = float(np.sqrt(np.log1p(model.lab_cv[name] ** 2)))
            values[name] = at_visit(name) * np.exp(sigma * z_lab[name] - 0.5 * sigma * sigma)
    egfr = _observed_egfr(arrays, values, at_visit, age_visit, fem, v)
    if egfr is not None:
        values[EGFR] = egfr
    if "prednisone_mg_day" in arrays:
        values["prednisone_mg_day"] = at_visit("prednisone_mg_day")
    for name in _LABS:
        if name in values:
            frame[name] = values[name].reshape(-1)

    for column, (obs, threshold) in DESCRIPTOR_THRESHOLDS.items():
        if obs not in arrays:
            continue
        activity = at_visit(obs)
        scale = model.descriptor_scale[column]
        if scale == 0.0:
            present = activity > threshold
        else:
            present = u_desc[column] < _logistic((activity - threshold) / scale)
        frame[column] = np.asarray(present, dtype=bool).reshape(-1)

    frame["c3_lln_g_l"] = np.full(n * v, C3_LLN_G_L)
    frame["c4_lln_g_l"] = np.full(n * v, C4_LLN_G_L)
    frame["anti_dsdna_uln_iu_ml"] = np.full(n * v, ANTI_DSDNA_ULN_IU_ML)
    table = pd.DataFrame(frame)
    if end is not None:
        with np.errstate(invalid="ignore"):
            after = actual > np.asarray(end, dtype=float)[:, None]
        table = table.loc[~after.reshape(-1)].reset_index(drop=True)
    return table


def _observed_egfr(
    arrays: Mapping[str, FloatArray],
    noisy: Mapping[str, FloatArray],
    at_visit: Callable[[str], FloatArray],
    age_visit: FloatArray | None,
    female: BoolArray | None,
    v: int,
) -> FloatArray | None:
    """eGFR at the visits from the noisy creatinine (module docstring), or None."""
    has_cr = CREATININE in noisy
    if has_cr and age_visit is not None and female is not None:
        sex = np.repeat(female[:, None], v, axis=1)
        return _ckd_epi_2021(noisy[CREATININE], age_visit, sex)
    if EGFR not in arrays:
        return None
    true_egfr = at_visit(EGFR)
    if not has_cr:
        return true_egfr
    cr_true = at_visit(CREATININE)
    cr_noisy = noisy[CREATININE]
    is_female = np.ones(cr_true.shape[0], dtype=bool) if female is None else female
    sex = np.repeat(is_female[:, None], v, axis=1)
    # age cancels in the ratio; 40 years is arbitrary
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = _ckd_epi_2021(cr_noisy, 40.0, sex) / _ckd_epi_2021(cr_true, 40.0, sex)
    ratio = np.where(cr_noisy == cr_true, 1.0, ratio)
    return np.asarray(true_egfr * ratio, dtype=float)
