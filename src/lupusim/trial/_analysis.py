"""Analysis of a virtual trial: per-arm estimates, comparisons, randomised trials, power.

Two views of the same simulated potential outcomes (every subject was run in every arm):

* **counterfactual** — all ``N`` virtual patients in every arm: per-arm estimates with 95 %
  CIs and *paired* comparisons (each subject is its own control);
* **randomised** — trials of the protocol's size drawn from the ``N`` patients, each
  subject assigned to one arm (fixed allocation ratio; permuted blocks within strata when
  the protocol stratifies) and analysed unpaired, as the real trial would be. One such
  trial is reported; ``n_trials`` of them give the power: the share with p < 0.05.

Statistics per endpoint kind (:mod:`lupusim.stats`): responders — proportion
(Wilson) and risk difference (Newcombe; Fisher or McNemar); numeric instrument values and
cumulative glucocorticoid — mean (t) and mean difference (Welch or paired t); time to
event — Kaplan-Meier event-free probability at the horizon, Cox hazard ratio, log-rank p
for power; rates — events per 100 patient-years (exact Poisson) and rate ratio (exact
conditional test).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from lupusim import stats as st
from lupusim.trial._protocol import (
    CumulativeGlucocorticoid,
    InstrumentAtWeek,
    Protocol,
    RatePer100PY,
    TimeToEvent,
    split_by_ratio,
)

ALPHA = 0.05
EndpointSpec = InstrumentAtWeek | TimeToEvent | RatePer100PY | CumulativeGlucocorticoid


def endpoint_kind(ep: EndpointSpec) -> str:
    """``binary``, ``numeric``, ``time_to_event`` or ``rate``."""
    if isinstance(ep, InstrumentAtWeek):
        return "binary" if ep.responder_values is not None else "numeric"
    if isinstance(ep, TimeToEvent):
        return "time_to_event"
    if isinstance(ep, RatePer100PY):
        return "rate"
    return "numeric"


def _horizon_weeks(protocol: Protocol, ep: EndpointSpec) -> float:
    if isinstance(ep, TimeToEvent) and ep.within_weeks is not None:
        return min(ep.within_weeks, protocol.follow_up_weeks)
    return protocol.follow_up_weeks


_NUMERIC_UNITS = {"egfr_ckd_epi_2021": "mL/min/1.73m2"}


def endpoint_description(protocol: Protocol, ep: EndpointSpec) -> dict[str, Any]:
    """Kind, time point and unit of an endpoint's estimate (for summary.json)."""
    kind = endpoint_kind(ep)
    out: dict[str, Any] = {"kind": kind}
    if isinstance(ep, InstrumentAtWeek):
        out["instrument"] = ep.instrument
        out["week"] = ep.week
        if kind == "binary":
            out["responder_values"] = list(ep.responder_values or [])
            out["unit"] = "proportion of patients"
        else:
            out["unit"] = _NUMERIC_UNITS.get(ep.instrument, "points")
    elif isinstance(ep, CumulativeGlucocorticoid):
        out["week"] = ep.at_week
        out["unit"] = "g prednisone-equivalent"
    elif isinstance(ep, TimeToEvent):
        out["event"] = ep.event
        out["week"] = _horizon_weeks(protocol, ep)
        out["unit"] = "event-free probability"
    else:
        out["event"] = ep.event
        out["week"] = min(ep.within_weeks or protocol.follow_up_weeks, protocol.follow_up_weeks)
        out["unit"] = "events per 100 patient-years"
    out["horizon_weeks"] = out["week"]
    return out


@dataclass(frozen=True)
class Outcomes:
    """Per-subject outcomes aligned on ``subject_ids`` for every arm and endpoint.

    ``value[ep][arm]``, ``time[ep][arm]``, ``event[ep][arm]``, ``person_years[ep][arm]``
    are ``(n,)`` arrays (NaN where not applicable).
    """

    subject_ids: np.ndarray
    value: dict[str, dict[str, np.ndarray]]
    time: dict[str, dict[str, np.ndarray]]
    event: dict[str, dict[str, np.ndarray]]
    person_years: dict[str, dict[str, np.ndarray]]

    @classmethod
    def from_table(
        cls, protocol: Protocol, table: pd.DataFrame, subject_ids: np.ndarray
    ) -> Outcomes:
        pos = pd.Index(subject_ids)
        fields: dict[str, dict[str, dict[str, np.ndarray]]] = {
            f: {} for f in ("value", "time_weeks", "event", "person_years")
        }
        for ep in protocol.endpoints:
            for f in fields:
                fields[f][ep.name] = {}
            for arm in protocol.arms:
                rows = table[(table["endpoint"] == ep.name) & (table["arm"] == arm.name)]
                idx = pos.get_indexer(rows["subject_id"])
                keep = idx >= 0
                for f in fields:
                    arr = np.full(len(pos), np.nan)
                    arr[idx[keep]] = rows[f].to_numpy(dtype=float)[keep]
                    fields[f][ep.name][arm.name] = arr
        return cls(
            subject_ids,
            fields["value"],
            fields["time_weeks"],
            fields["event"],
            fields["person_years"],
        )


def _estimate(
    kind: str, o: Outcomes, ep: str, arm: str, idx: np.ndarray, horizon: float
) -> dict[str, Any]:
    v = o.value[ep][arm][idx]
    if kind == "binary":
        ok = np.isfinite(v)
        return st.proportion(int(v[ok].sum()), int(ok.sum())).to_dict()
    if kind == "numeric":
        out = st.mean(v).to_dict()
        out["median"] = st.median(v).to_dict()
        return out
    if kind == "rate":
        py = o.person_years[ep][arm][idx]
        ok = np.isfinite(v) & np.isfinite(py)
        out = st.rate_per_100py(int(v[ok].sum()), float(py[ok].sum())).to_dict()
        out["n"] = int(ok.sum())  # patients (the Poisson CI rests on the event count)
        out["events"] = int(v[ok].sum())
        out["person_years"] = float(py[ok].sum())
        return out
    t, e = o.time[ep][arm][idx], o.event[ep][arm][idx]
    ok = np.isfinite(t) & np.isfinite(e)
    km = st.kaplan_meier(t[ok], e[ok].astype(bool))
    at = min(horizon, km.last_time) if km.n else 0.0
    out = km.at(at).to_dict()
    out["measure"] = f"event-free probability at week {at:g} (Kaplan-Meier)"
    out["at_week"] = at
    out["events"] = int(e[ok].sum())
    out["median_weeks"] = km.median if np.isfinite(km.median) else None
    return out


def _compare(
    kind: str,
    o: Outcomes,
    ep: str,
    a: str,
    b: str,
    ia: np.ndarray,
    ib: np.ndarray,
    paired: bool,
    *,
    for_power: bool = False,
) -> st.Comparison:
    va, vb = o.value[ep][a][ia], o.value[ep][b][ib]
    if kind == "binary":
        if paired:
            ok = np.isfinite(va) & np.isfinite(vb)
            return st.paired_proportion_difference(va[ok] > 0.5, vb[ok] > 0.5)
        oka, okb = np.isfinite(va), np.isfinite(vb)
        return st.proportion_difference(
            int(va[oka].sum()), int(oka.sum()), int(vb[okb].sum()), int(okb.sum())
        )
    if kind == "numeric":
        return st.paired_mean_difference(va, vb) if paired else st.mean_difference(va, vb)
    if kind == "rate":
        pa, pb = o.person_years[ep][a][ia], o.person_years[ep][b][ib]
        oka, okb = np.isfinite(va) & np.isfinite(pa), np.isfinite(vb) & np.isfinite(pb)
        return st.rate_ratio(
            int(va[oka].sum()), float(pa[oka].sum()), int(vb[okb].sum()), float(pb[okb].sum())
        )
    ta, tb = o.time[ep][a][ia], o.time[ep][b][ib]
    ea, eb = o.event[ep][a][ia], o.event[ep][b][ib]
    time = np.concatenate([ta, tb])
    event = np.concatenate([ea, eb])
    group = np.concatenate([np.ones(len(ta), bool), np.zeros(len(tb), bool)])
    ok = np.isfinite(time) & np.isfinite(event)
    if for_power:
        p = st.logrank_p(time[ok], event[ok].astype(bool), group[ok])
        return st.Comparison("log_rank", np.nan, (np.nan, np.nan), p, "log-rank test", False)
    cmp = st.cox_hazard_ratio(time[ok], event[ok].astype(bool), group[ok])
    if paired:
        return st.Comparison(
            cmp.measure,
            cmp.difference,
            cmp.ci95,
            cmp.p_value,
            cmp.method + "; pairing ignored (same subjects in both arms)",
            True,
        )
    return cmp


def _arm_block(
    protocol: Protocol, o: Outcomes, idx_by_arm: dict[str, np.ndarray]
) -> dict[str, Any]:
    arms: dict[str, Any] = {}
    for arm in protocol.arms:
        idx = idx_by_arm[arm.name]
        block: dict[str, Any] = {"n": len(idx)}
        for ep in protocol.endpoints:
            block[ep.name] = _estimate(
                endpoint_kind(ep), o, ep.name, arm.name, idx, _horizon_weeks(protocol, ep)
            )
        arms[arm.name] = block
    return arms


def _comparisons(
    protocol: Protocol, o: Outcomes, idx_by_arm: dict[str, np.ndarray], paired: bool
) -> list[dict[str, Any]]:
    out = []
    for a, b in combinations([arm.name for arm in protocol.arms], 2):
        for ep in protocol.endpoints:
            cmp = _compare(
                endpoint_kind(ep), o, ep.name, a, b, idx_by_arm[a], idx_by_arm[b], paired
            )
            out.append(
                {"endpoint": ep.name, "arms": [a, b], "primary": ep.primary, **cmp.to_dict()}
            )
    return out


def randomise(
    n_available: int,
    n_per_arm: dict[str, int],
    ratio: dict[str, int],
    rng: np.random.Generator,
    strata: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], bool]:
    """Draw a trial's subjects and allocate them; returns indices per arm and whether
    subjects had to be drawn with replacement (fewer virtual patients than the trial).

    Without strata: complete randomisation with exactly ``n_per_arm`` per arm. With
    strata: permuted blocks of size ``sum(ratio)`` within each stratum (per-arm totals
    then follow the ratio up to incomplete blocks), the usual design of stratified trials.
    """
    total = sum(n_per_arm.values())
    replace = total > n_available
    chosen = rng.choice(n_available, size=total, replace=replace)
    arms = list(n_per_arm)
    if strata is None:
        labels = np.repeat(arms, [n_per_arm[a] for a in arms])
        rng.shuffle(labels)
    else:
        labels = np.empty(total, dtype=object)
        block = np.repeat(arms, [ratio[a] for a in arms])
        s = strata[chosen]
        for value in pd.unique(s):
            members = np.flatnonzero(s == value)
            n_blocks = -(-len(members) // len(block))
            seq = np.concatenate([rng.permutation(block) for _ in range(n_blocks)])
            labels[members] = seq[: len(members)]
    return {a: chosen[labels == a] for a in arms}, replace


def _strata_key(strata: dict[str, np.ndarray], keep: np.ndarray) -> np.ndarray | None:
    if not strata:
        return None
    parts = [np.asarray(v)[keep].astype(str) for v in strata.values()]
    key = parts[0]
    for p in parts[1:]:
        key = np.char.add(np.char.add(key, "|"), p)
    return key


def _power(
    protocol: Protocol,
    o: Outcomes,
    n_per_arm: dict[str, int],
    n_trials: int,
    rng: np.random.Generator,
    strata: np.ndarray | None,
) -> dict[str, Any]:
    pairs = list(combinations([arm.name for arm in protocol.arms], 2))
    pvals: dict[tuple[str, str, str], list[float]] = {
        (ep.name, a, b): [] for ep in protocol.endpoints for a, b in pairs
    }
    replace = False
    n = len(o.subject_ids)
    for _ in range(n_trials):
        idx, rep = randomise(n, n_per_arm, protocol.allocation.ratio, rng, strata)
        replace |= rep
        for ep in protocol.endpoints:
            kind = endpoint_kind(ep)
            for a, b in pairs:
                cmp = _compare(kind, o, ep.name, a, b, idx[a], idx[b], False, for_power=True)
                pvals[(ep.name, a, b)].append(cmp.p_value)
    endpoints: dict[str, list[dict[str, Any]]] = {}
    for (ep_name, a, b), ps in pvals.items():
        est = st.power(np.asarray(ps, dtype=float), ALPHA).to_dict()
        endpoints.setdefault(ep_name, []).append(
            {"arms": [a, b], "power": est["estimate"], "ci95": est["ci95"]}
        )
    return {"endpoints": endpoints, "with_replacement": replace}


def analyse(
    protocol: Protocol,
    outcomes: pd.DataFrame,
    status: pd.DataFrame,
    *,
    seed: int,
    n_trials: int = 1000,
    power_curve: tuple[int, ...] = (),
    strata: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """The summary.json content (without population/settings, added by the runner)."""
    arms = [a.name for a in protocol.arms]
    ok_all = status.groupby("subject_id", sort=False)["ok"].all()
    subject_ids = np.asarray(sorted(ok_all.index[ok_all.to_numpy()]))
    all_ids = np.asarray(sorted(ok_all.index))
    keep = np.isin(all_ids, subject_ids)
    o = Outcomes.from_table(protocol, outcomes, subject_ids)
    n = len(subject_ids)
    everyone = {a: np.arange(n) for a in arms}
    summary: dict[str, Any] = {
        "protocol": protocol.name,
        "source": protocol.source,
        "primary_endpoints": [ep.name for ep in protocol.endpoints if ep.primary],
        "endpoints": {ep.name: endpoint_description(protocol, ep) for ep in protocol.endpoints},
        "analysis": "counterfactual: every virtual patient in every arm; paired comparisons",
        "arms": _arm_block(protocol, o, everyone),
        "comparisons": _comparisons(protocol, o, everyone, paired=True),
        "failures": {
            "subjects_excluded": int(len(all_ids) - n),
            "by_arm": {
                a: int((~status[status["arm"] == a]["ok"].astype(bool)).sum()) for a in arms
            },
        },
    }
    rng = np.random.default_rng([seed, 4])
    strata_key = _strata_key(strata or {}, keep)
    n_per_arm = protocol.n_per_arm()
    idx, replace = randomise(n, n_per_arm, protocol.allocation.ratio, rng, strata_key)
    summary["trial"] = {
        "analysis": "one randomised trial of the protocol's size; unpaired comparisons",
        "n_per_arm": {a: len(i) for a, i in idx.items()},
        "drawn_with_replacement": replace,
        "arms": _arm_block(protocol, o, idx),
        "comparisons": _comparisons(protocol, o, idx, paired=False),
    }
    if len(arms) < 2:
        summary["power"] = {"note": "single-arm protocol: no between-arm comparison to power"}
        return summary
    power = _power(protocol, o, n_per_arm, n_trials, rng, strata_key)
    summary["power"] = {
        "alpha": ALPHA,
        "n_trials": n_trials,
        "n_per_arm": n_per_arm,
        "tests": "Fisher exact (responders), Welch t (numeric), log-rank (time to event), "
        "exact conditional rate-ratio test (rates); two-sided",
        **power,
        "curve": [],
    }
    for total in power_curve:
        scaled = split_by_ratio(total, protocol.allocation.ratio, arms)
        pw = _power(protocol, o, scaled, n_trials, rng, strata_key)
        summary["power"]["curve"].append(
            {
                "total": total,
                "n_per_arm": scaled,
                "with_replacement": pw["with_replacement"],
                "endpoints": pw["endpoints"],
            }
        )
    return summary
