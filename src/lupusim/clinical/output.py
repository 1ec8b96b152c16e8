"""Write the outputs of a scoring run atomically, and read a configuration file.

``write_outputs`` writes ``scores.csv``, ``adam.csv``, ``summary.json``,
``report.html`` and ``manifest.json`` into a temporary folder beside ``out`` and only
then moves them into place, so a failure leaves no half-written output. The CSV files
are written by :func:`lupusim.safe_csv.write_csv` (text a spreadsheet would execute is
escaped).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from lupusim._yaml import load_yaml
from lupusim.clinical._ranges import format_number
from lupusim.clinical.schema import ScoringConfig
from lupusim.clinical.score import ScoreResult
from lupusim.errors import InputError
from lupusim.report import render_score_report
from lupusim.safe_csv import write_csv

OUTPUT_FILES: tuple[str, ...] = (
    "scores.csv",
    "adam.csv",
    "summary.json",
    "report.html",
    "manifest.json",
)


def load_config(path: str | Path | None) -> ScoringConfig:
    """A :class:`ScoringConfig` from a YAML or JSON file (the §10 knobs); defaults if None."""
    if path is None:
        return ScoringConfig()
    p = Path(path)
    if not p.is_file():
        raise InputError("no such file", file=str(p))
    try:
        text = p.read_text(encoding="utf-8")
        if p.suffix.lower() == ".json":
            data = json.loads(text, object_pairs_hook=_unique_keys)
        else:
            data = load_yaml(text)
    except (json.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(
            f"cannot parse configuration: {' '.join(str(exc).split())}", file=str(p)
        ) from exc
    except RecursionError as exc:
        raise InputError("cannot parse configuration: nested too deeply", file=str(p)) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError("configuration must be a mapping of knob: value", file=str(p))
    try:
        return ScoringConfig(**{str(k): v for k, v in data.items()})
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(x) for x in err.get("loc", ())) or None
        msg = "not a finite number" if err["type"] == "finite_number" else str(err["msg"])
        value = err.get("input")
        if isinstance(value, str | int | float | bool) and err["type"] != "missing":
            shown = format_number(value) if isinstance(value, float) else repr(value)
            msg = f"value {shown}: {msg}"
        raise InputError(" ".join(msg.split()), file=str(p), column=key) from exc


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _json_default(obj: Any) -> Any:
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def _sha256(path: str) -> str | None:
    p = Path(path)
    if not p.is_file():
        return None
    h = hashlib.sha256()
    with p.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def manifest(result: ScoreResult, config_path: str | Path | None = None) -> dict[str, Any]:
    """Version, inputs' hashes and configuration of a run (DESIGN.md "Command line")."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version("lupusim")
    except PackageNotFoundError:  # pragma: no cover
        ver = "unknown"
    inputs = dict(result.summary.get("inputs", {}))
    if config_path is not None:
        inputs["config"] = str(config_path)
    return {
        "command": "score",
        "version": ver,
        "inputs": {k: {"path": v, "sha256": _sha256(v)} for k, v in inputs.items()},
        "config": result.summary.get("config", {}),
    }


def write_outputs(
    result: ScoreResult, out: str | Path, config_path: str | Path | None = None
) -> Path:
    """Write every output file into ``out`` atomically; return ``out``."""
    out = Path(out)
    parent = out.parent if str(out.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and not out.is_dir():
        raise InputError("output path exists and is not a folder", file=str(out))
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
    try:
        write_csv(result.scores, tmp / "scores.csv")
        write_csv(result.adam, tmp / "adam.csv")
        (tmp / "summary.json").write_text(
            json.dumps(result.summary, indent=2, default=_json_default), encoding="utf-8"
        )
        (tmp / "report.html").write_text(
            render_score_report(result.scores, result.summary), encoding="utf-8"
        )
        (tmp / "manifest.json").write_text(
            json.dumps(manifest(result, config_path), indent=2, default=_json_default),
            encoding="utf-8",
        )
        if not out.exists():
            os.replace(tmp, out)
            return out
        for name in OUTPUT_FILES:
            os.replace(tmp / name, out / name)
        return out
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
