"""The trial report's model-uncertainty section, from summary.json's ``uncertainty`` block.

``lupusim trial run --uncertainty K`` reruns the protocol under K parameter sets of the
calibration's posterior (:mod:`lupusim.trial._uncertainty`). This section shows, beside
every arm estimate, paired arm difference and power of the main run with its 95 %
sampling CI, the model interval across those draws, and the assurance (power averaged
over the draws); its figures draw both intervals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lupusim.report import _format as F
from lupusim.report import _trial_figures as figures
from lupusim.report._figures import Picture
from lupusim.report._tables import NUM, Cell, Table, columns, row

#: (kind, unit) of each endpoint, as the endpoint sections name them.
EndpointUnits = Mapping[str, tuple[str, str]]


def _interval(entry: Mapping[str, Any], scale: float) -> str:
    lo, hi = F.pair(F.get(entry, "model", "interval90"))
    if lo is None or hi is None:
        return "—"
    return F.interval(lo * scale, hi * scale, F.decimals_for(max(abs(lo), abs(hi)) * scale))


def _estimate(entry: Mapping[str, Any], scale: float) -> str:
    return F.estimate_ci(entry.get("estimate"), entry.get("sampling_ci95"), scale=scale)


def _percent(x: Any) -> str:
    v = F.finite(x)
    return "—" if v is None else f"{100 * v:.0f} %"


def _power_rows(raw: Mapping[str, Any]) -> list[Any]:
    rows = []
    for ep, entries in F.mapping(raw.get("power")).items():
        for e in F.mappings(entries):
            lo, hi = F.pair(F.get(e, "model", "interval90"))
            model = "—" if lo is None or hi is None else f"{100 * lo:.0f}–{100 * hi:.0f} %"
            a = F.mapping(e.get("assurance"))
            se = F.finite(a.get("se"))
            assured = _percent(a.get("estimate")) + (f" (SE {100 * se:.0f} %)" if se else "")
            sampling = F.pair(e.get("sampling_ci95"))
            fit = _percent(e.get("power"))
            if sampling[0] is not None and sampling[1] is not None:
                fit += f" ({100 * sampling[0]:.0f}–{100 * sampling[1]:.0f} %)"
            rows.append(
                row(
                    str(ep),
                    " vs ".join(str(x) for x in e.get("arms") or []),
                    Cell(fit, NUM),
                    Cell(model, NUM),
                    Cell(assured, NUM),
                )
            )
    return rows


def _assurance_series(
    raw: Mapping[str, Any], power: Mapping[str, Any]
) -> dict[str, list[tuple[float, float, float | None, float | None, float | None]]]:
    """Points (total, power at fit, model low, model high, assurance) per endpoint and
    arm pair, over the power curve and the protocol's own size."""
    n_per_arm = F.mapping(power.get("n_per_arm"))
    protocol_total = sum(F.finite(v) or 0.0 for v in n_per_arm.values())
    blocks = [(protocol_total, raw.get("power"))]
    blocks += [
        (F.finite(c.get("total")) or 0.0, c.get("endpoints"))
        for c in F.mappings(raw.get("power_curve"))
    ]
    series: dict[str, list[tuple[float, float, float | None, float | None, float | None]]] = {}
    for total, block in blocks:
        for ep, entries in F.mapping(block).items():
            items = F.mappings(entries)
            for e in items:
                p = F.finite(e.get("power"))
                if p is None or not total:
                    continue
                key = ep if len(items) <= 1 else f"{ep} ({' vs '.join(map(str, e['arms']))})"
                lo, hi = F.pair(F.get(e, "model", "interval90"))
                points = series.setdefault(key, [])
                if any(abs(q[0] - total) < 1e-9 for q in points):
                    continue
                points.append((total, p, lo, hi, F.finite(F.get(e, "assurance", "estimate"))))
    return series


def uncertainty_section(
    raw: Any,
    power: Any,
    units: EndpointUnits,
    arms: Sequence[str],
    colours: Mapping[str, str],
) -> dict[str, Any] | None:
    """Tables and figures of the model uncertainty, or None when the run has none."""
    if not isinstance(raw, Mapping):
        return None
    estimate_rows = []
    pictures: list[Picture] = []
    arm_block = F.mapping(raw.get("arms"))
    for name, (kind, unit) in units.items():
        scale = 100.0 if kind == "binary" else 1.0
        shown = "%" if kind == "binary" else unit
        for arm in arms:
            entry = F.get(arm_block, arm, name)
            if not isinstance(entry, Mapping):
                continue
            estimate_rows.append(
                row(
                    name,
                    Cell(arm, colour=colours.get(arm, "#555555")),
                    shown,
                    Cell(_estimate(entry, scale), NUM),
                    Cell(_interval(entry, scale), NUM),
                )
            )
        uri = figures.uncertainty_figure(name, kind, unit, arm_block, arms, colours)
        if uri:
            pictures.append(
                Picture(
                    uri,
                    f"{name}: model uncertainty",
                    "Diamond and whisker: the fitted model's estimate with its 95 % sampling CI; "
                    "shaded box: 5th–95th percentile across the posterior draws; dots: the draws "
                    "(each draw's change from the reference added to the fit).",
                    "single",
                )
            )
    comparison_rows = []
    for c in F.mappings(raw.get("comparisons")):
        kind = units.get(str(c.get("endpoint")), ("", ""))[0]
        scale = 100.0 if kind == "binary" and c.get("measure") == "risk_difference" else 1.0
        comparison_rows.append(
            row(
                str(c.get("endpoint")),
                " vs ".join(str(a) for a in c.get("arms") or []),
                str(c.get("measure") or "").replace("_", " ")
                + (" (percentage points)" if scale == 100.0 else ""),
                Cell(_estimate(c, scale), NUM),
                Cell(_interval(c, scale), NUM),
            )
        )
    power_map = F.mapping(power)
    curve = None
    series = _assurance_series(raw, power_map) if "power" in raw else {}
    if any(len(v) > 1 for v in series.values()):
        n_per_arm = F.mapping(power_map.get("n_per_arm"))
        uri = figures.assurance_figure(
            series,
            sorted(series),
            sum(F.finite(v) or 0.0 for v in n_per_arm.values()) or None,
            F.number(power_map.get("alpha")),
        )
        if uri:
            curve = Picture(
                uri,
                "power and assurance",
                "Power of the fitted model (solid) with its 5th–95th percentile across the "
                "posterior draws (shaded) and the assurance, power averaged over the draws "
                "(dashed), against the total sample size; dotted: 80 % and the protocol's size.",
                "wide",
            )
    failed = [
        f"draw {F.count(f.get('draw'))}: {F.text(f.get('error'))}"
        for f in F.mappings(raw.get("failed_draws"))
    ]
    return {
        "method": F.text(raw.get("method")),
        "posterior": F.text(raw.get("posterior")),
        "posterior_check": F.text(raw.get("posterior_check")),
        "draws_used": F.count(raw.get("draws_used")),
        "draws_requested": F.count(raw.get("draws_requested")),
        "subjects": F.count(raw.get("subjects_per_draw")),
        "failed": failed,
        "estimates": Table(
            columns(
                "Endpoint",
                "Arm",
                "Unit",
                ("Fit (95 % sampling CI)", NUM),
                ("Model 90 % interval", NUM),
            ),
            tuple(estimate_rows),
            "uncertainty",
        ),
        "comparisons": Table(
            columns(
                "Endpoint",
                "Arms",
                "Measure",
                ("Fit (95 % sampling CI)", NUM),
                ("Model 90 % interval", NUM),
            ),
            tuple(comparison_rows),
            "uncertainty",
        ),
        "power": Table(
            columns(
                "Endpoint",
                "Arms",
                ("Power at the fit (95 % CI)", NUM),
                ("Model 90 % interval", NUM),
                ("Assurance", NUM),
            ),
            tuple(_power_rows(raw)),
            "uncertainty",
        ),
        "figures": pictures,
        "curve": curve,
    }
