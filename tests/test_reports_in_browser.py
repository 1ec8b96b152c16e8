"""Every HTML report, opened in a real browser (headless Chromium through Playwright).

The reports are produced as the commands produce them: the study report from the study
renderer on the small trajectories of tests/report, the trial report by two small
``run_trial`` runs (deng2017: binary, numeric and rate endpoints and a power curve;
seed_pilot: one arm, Kaplan-Meier curves), the scoring report by ``lupusim score`` on the
visits of tests/clinical. Each page must load without a console error or a failed
request, every image must have decoded (``naturalWidth > 0``; inline SVG must have a
size), no table may be without rows, and no ``<section>`` or heading may be empty (a
heading needs content before the next heading of its level or above). A full-page
screenshot of each is saved under pytest's tmp folder and its path printed.

Chromium is the system's (Debian package ``chromium``; .ci/run installs it): Playwright's
own browser download is not used. Without a Chromium executable the test is skipped.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright
from typer.testing import CliRunner

from lupusim.cli import app
from lupusim.report import render_study_report, render_trial_report
from lupusim.trial import TrialOptions, load_protocol, run_trial

EXAMPLES = Path(__file__).parents[1] / "examples" / "trials"


def _chromium() -> str | None:
    for candidate in (
        os.environ.get("LUPUSIM_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium executable (/usr/bin/chromium; `apt-get install chromium`)",
)

#: Runs in the page: every problem the report has, as one line each.
PROBLEMS_JS = """
() => {
  const problems = [];
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const hasContent = (el) =>
    (el.innerText || el.textContent || "").trim().length > 0 ||
    el.querySelector("img, svg, table") !== null ||
    ["IMG", "SVG", "TABLE"].includes(el.tagName.toUpperCase());
  for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0) {
      problems.push(`image not decoded: ${img.alt || img.src.slice(0, 60)}`);
    }
  }
  for (const svg of document.querySelectorAll("svg")) {
    if (!visible(svg)) problems.push(`svg without a size: ${svg.getAttribute("aria-label")}`);
  }
  for (const table of document.querySelectorAll("table")) {
    if (table.querySelectorAll("tbody tr").length === 0) {
      problems.push(`table without rows: ${table.className || table.outerHTML.slice(0, 80)}`);
    }
  }
  for (const section of document.querySelectorAll("section")) {
    const rest = Array.from(section.children).filter((c) => !/^H[1-6]$/.test(c.tagName));
    if (!rest.some(hasContent)) problems.push(`empty section: ${section.id || section.className}`);
  }
  for (const h of document.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
    const level = Number(h.tagName[1]);
    if (!(h.innerText || "").trim()) {
      problems.push(`heading without text: ${h.outerHTML}`);
      continue;
    }
    let content = false;
    for (let el = h.nextElementSibling; el; el = el.nextElementSibling) {
      const m = /^H([1-6])$/.exec(el.tagName);
      if (m && Number(m[1]) <= level) break;
      if (el.matches("section") && el.querySelector("h1, h2, h3, h4, h5, h6")) {
        content = true;  // a subsection: its own heading is checked
        break;
      }
      if (!m && hasContent(el)) { content = true; break; }
      if (m) { content = true; break; }  // a deeper heading: checked on its own
    }
    if (!content) problems.push(`empty heading: ${h.innerText.trim()}`);
  }
  return problems;
}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield instance
        finally:
            instance.close()


def check_page(browser: Browser, html: Path, screenshot: Path) -> list[str]:
    """Open ``html``; return its problems (console errors, failed requests and what
    :data:`PROBLEMS_JS` finds) and save a full-page screenshot."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems: list[str] = []
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("requestfailed", lambda req: problems.append(f"request failed: {req.url}"))
    page.on(
        "response",
        lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
    )
    try:
        page.goto(html.resolve().as_uri(), wait_until="load")
        problems.extend(page.evaluate(PROBLEMS_JS))
        page.screenshot(path=str(screenshot), full_page=True)
    finally:
        page.close()
    print(f"screenshot of {html.name}: {screenshot}")
    return problems


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each report, produced the way its command produces it."""
    from clinical.test_cli import VISITS
    from report.test_report import _frame, _published, _summary

    root = tmp_path_factory.mktemp("reports")
    out: dict[str, Path] = {}

    summary: dict[str, Any] = _summary()
    summary["calibration"] = [
        {
            "problem": "mouse",
            "target_id": "M1",
            "description": "ACR falls",
            "simulated": 12.5,
            "published": 10.0,
            "scale": 2.0,
            "residual": 1.25,
        }
    ]
    out["study"] = root / "study" / "report.html"
    render_study_report(
        "Study report in a browser",
        _frame(),
        summary,
        _published(),
        out["study"],
        time_unit={"mouse": ("age (weeks)", 7.0), "patients": ("months", 30.44)},
        log_scale=("anti_dsdna_iu_ml",),
        notes=("A small synthetic reproduction.",),
    )

    for name, options in (
        ("deng2017", {"n_subjects": 8, "power_curve": (8,)}),
        ("seed_pilot", {"n_subjects": 4}),
    ):
        run = root / name
        settings = TrialOptions(chunk_size=8, n_trials=10, progress=False, **options)
        run_trial(load_protocol(EXAMPLES / f"{name}.yaml"), run, settings)
        out[f"trial_{name}"] = run / "report.html"
    # the re-render of `lupusim trial report` writes the same file
    assert render_trial_report(root / "deng2017") == out["trial_deng2017"]

    visits = root / "visits.csv"
    visits.write_text(VISITS, encoding="utf-8")
    result = CliRunner().invoke(app, ["score", str(visits), "--out", str(root / "score")])
    assert result.exit_code == 0, result.output
    out["score"] = root / "score" / "report.html"
    return out


@pytest.mark.parametrize("name", ["study", "trial_deng2017", "trial_seed_pilot", "score"])
def test_report_renders_cleanly_in_chromium(
    name: str, reports: dict[str, Path], browser: Browser, tmp_path: Path
) -> None:
    problems = check_page(browser, reports[name], tmp_path / f"{name}.png")
    assert not problems, f"{name} report: " + "; ".join(problems)
    assert (tmp_path / f"{name}.png").stat().st_size > 0


def test_the_check_finds_broken_pages(browser: Browser, tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><html><head><title>broken</title></head><body>"
        "<h1>Broken</h1><p>text</p>"
        '<img src="missing.png" alt="missing figure">'
        "<section><h2>Nothing here</h2></section>"
        "<h2>Empty heading</h2><h2>Table</h2><table><tbody></tbody></table>"
        "<script>console.error('boom')</script>"
        "</body></html>",
        encoding="utf-8",
    )
    text = "; ".join(check_page(browser, broken, tmp_path / "broken.png"))
    for expected in (
        "console error: boom",
        "request failed",
        "image not decoded: missing figure",
        "empty section",
        "empty heading: Empty heading",
        "table without rows",
    ):
        assert expected in text, (expected, text)
