#!/usr/bin/env python
"""Regenerate docs/model.md from the symbolic model and the presets.

python scripts/generate_model_docs.py [--out docs/model.md] [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lupusim.model._docs import render_model_markdown

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "docs" / "model.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--check", action="store_true", help="only report whether the file is current"
    )
    args = parser.parse_args()
    text = render_model_markdown()
    if args.check:
        current = args.out.is_file() and args.out.read_text() == text
        print(f"{args.out}: {'current' if current else 'out of date'}")
        return 0 if current else 1
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
