#!/usr/bin/env python
"""Regenerate docs/model.md from the symbolic model and the presets."""

from __future__ import annotations

from pathlib import Path

from lupusim.model._docs import render_model_markdown

if __name__ == "__main__":
    out = Path(__file__).resolve().parents[1] / "docs" / "model.md"
    out.write_text(render_model_markdown())
    print(f"wrote {out}")
