"""The page: one Jinja environment over ``templates/``, rendering and atomic writing.

Every report template extends ``_page.html.j2`` (the HTML skeleton, the shared style
sheet, title and generator line) and draws its tables and figures with the macros of
``_macros.html.j2``. Templates are autoescaped and strict: an undefined name is an error,
not an empty string.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from lupusim import __version__


@cache
def environment() -> jinja2.Environment:
    """The report templates' environment (one per process)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("lupusim.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def version() -> str:
    """The installed lupusim version, as the pages state it."""
    return str(__version__)


def utc_stamp(when: datetime | None = None) -> str:
    """``2024-01-31 12:00 UTC`` for ``when`` (default: now)."""
    return (when or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_page(template: str, **context: Any) -> str:
    """Render one report template with ``context`` (``version`` is added)."""
    return environment().get_template(template).render(version=version(), **context)


def write_page(path: str | Path, html: str) -> Path:
    """Write ``html`` to ``path`` atomically (a temporary file renamed); parents created."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out
