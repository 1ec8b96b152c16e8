#!/usr/bin/env python
"""Draw the README's figure: one shipped virtual trial, observed as a trial observes it.

Runs examples/trials/deng2017.yaml (UC-MSC or placebo on standard induction and
maintenance, every arm on the same virtual patients) with the installed human model and
plots, per arm, the median and the 10-90 % band across patients of the visit UPCR and
SLEDAI-2K (measured with assay noise, scored by lupusim.clinical), with the share of
patients in remission by the trial's own rule. The figure is a model output, not data.

    python scripts/make_readme_figure.py [--subjects N] [--seed S] [--out docs/figures/...]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lupusim.trial import TrialOptions, load_protocol, read_table, run_trial

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = ROOT / "examples" / "trials" / "deng2017.yaml"
COLOURS = {"uc_msc": "#1f77b4", "placebo": "#7f7f7f"}


def _nominal_week(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with ``arm`` as text and ``week``, the visit's nominal week ("week 4")."""
    week = frame["visit"].astype(str).str.extract(r"week (\d+)", expand=False).astype(float)
    return frame.assign(arm=frame["arm"].astype(str), week=week)


def _bands(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Median and 10/90 % quantiles of ``column`` per arm and nominal visit week."""
    grouped = frame.groupby(["arm", "week"])[column]
    return grouped.quantile(np.array([0.1, 0.5, 0.9])).unstack().reset_index()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2017)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "figures" / "deng2017.png")
    args = parser.parse_args()
    protocol = load_protocol(PROTOCOL)
    with tempfile.TemporaryDirectory() as tmp:
        options = TrialOptions(
            n_subjects=args.subjects,
            seed=args.seed,
            workers=args.workers,
            n_trials=20,
            progress=True,
            write_report=False,
        )
        run_trial(protocol, tmp, options)
        visits = _nominal_week(read_table(tmp, "visits"))
        scores = _nominal_week(read_table(tmp, "scores"))
    figure, axes = plt.subplots(1, 3, figsize=(11.0, 3.4), dpi=90)
    for ax, column, label in (
        (axes[0], "upcr_g_per_g", "UPCR (g/g)"),
        (axes[1], "sledai2k", "SLEDAI-2K (points)"),
    ):
        source = visits if column in visits else scores
        for arm, band in _bands(source, column).groupby("arm"):
            weeks = band["week"]
            colour = COLOURS.get(str(arm), "#d62728")
            ax.fill_between(weeks, band[0.1], band[0.9], color=colour, alpha=0.2, lw=0)
            ax.plot(weeks, band[0.5], color=colour, lw=2, label=str(arm))
        ax.set_xlabel("week")
        ax.set_ylabel(label)
        ax.set_title(f"{label.split(' (')[0]}: median, 10-90 % of patients", fontsize=9)
    axes[0].set_yscale("log")
    axes[0].legend(frameon=False, fontsize=8)
    remission = scores.assign(in_remission=scores["renal_deng_2017"].astype(str) == "complete")
    share = remission.groupby(["arm", "week"])["in_remission"].mean().unstack(0)
    for arm in share.columns:
        axes[2].plot(share.index, share[arm], color=COLOURS.get(arm, "#d62728"), lw=2, label=arm)
    axes[2].set_ylim(0, 1)
    axes[2].set_xlabel("week")
    axes[2].set_ylabel("share of patients")
    axes[2].set_title("remission (Deng 2017 rule)", fontsize=9)
    figure.suptitle(
        f"Virtual Deng 2017 trial, {args.subjects} virtual patients per arm "
        f"(same patients in both arms; seed {args.seed})",
        fontsize=10,
    )
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")
    print(share.tail(1).to_string(float_format=lambda x: f"{np.round(x, 3)}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
