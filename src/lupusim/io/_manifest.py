"""Run manifests: version, git commit, model hashes, seed, input hashes, settings."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from lupusim import __version__


def file_sha256(path: Path | Any) -> str:
    """SHA-256 of a file (a path or an importlib resource)."""
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest()


def package_data_hashes() -> dict[str, str]:
    """Hashes of the packaged calibration data (targets.csv, access_upcr.csv)."""
    root = resources.files("lupusim").joinpath("data")
    return {
        name: file_sha256(root.joinpath(name))
        for name in ("targets.csv", "access_upcr.csv")
        if root.joinpath(name).is_file()
    }


def git_commit() -> str | None:
    """The source tree's git commit, if it is a git checkout; else None."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def build_manifest(
    command: str,
    seed: int,
    settings: Mapping[str, Any],
    model_hashes: Mapping[str, str],
    outputs: Mapping[str, str],
    timings_s: Mapping[str, float],
) -> dict[str, Any]:
    """Everything needed to say how a result was made."""
    return {
        "lupusim_version": __version__,
        "git_commit": git_commit(),
        "command": command,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": seed,
        "settings": dict(settings),
        "model_hashes": dict(model_hashes),
        "input_hashes": package_data_hashes(),
        "outputs": dict(outputs),
        "timings_s": {k: round(v, 3) for k, v in timings_s.items()},
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def write_json(path: Path, payload: Mapping[str, Any]) -> None:
    """Write JSON with stable key order and NaN as null."""
    text = json.dumps(_clean(payload), indent=2, sort_keys=False)
    path.write_text(text + "\n")


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return None if obj != obj or obj in (float("inf"), float("-inf")) else obj
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _clean(obj.item())
    return obj
