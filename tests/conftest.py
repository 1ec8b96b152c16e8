"""Shared fixtures: numba cache in a temporary folder per session."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault(
    "LUPUSIM_CACHE_DIR", os.path.join(tempfile.gettempdir(), "lupusim-test-cache")
)
