"""The README as a front page: its commands, links and snippets stay true.

* the first code block holds the two set-up commands, and the test command is the one
  ``.ci/run`` runs (the two must stay in step);
* every row of the command table names a real ``lupusim`` command and only options that
  command has;
* relative links in README.md and docs/performance.md lead to files in the repository,
  and the benchmark scripts and result files docs/performance.md names exist;
* the Library-use snippets compile, and the first one runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import typer.main

from lupusim.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PERFORMANCE = ROOT / "docs" / "performance.md"

REPRODUCE = (
    "python3 -m venv .venv && .venv/bin/pip install -q -e . && "
    ".venv/bin/lupusim reproduce sun2009 --out out/sun2009"
)
TESTS = (
    "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' && .venv/bin/python -m pytest -q"
)


def _code_blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.DOTALL)


def _commands(block: str) -> list[str]:
    return [ln.strip() for ln in block.splitlines() if ln.strip() and not ln.startswith("#")]


def test_the_two_commands_come_first() -> None:
    first = _code_blocks(README, r"\w*")[0]
    assert _commands(first) == [REPRODUCE, TESTS]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert TESTS in [ln.strip() for ln in ci.splitlines()]


def _command_rows() -> list[str]:
    section = README.split("## Commands", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(lupusim[^`]*)`", section, flags=re.MULTILINE)
    assert rows, "no command rows in the README"
    return rows


@pytest.mark.parametrize("usage", _command_rows())
def test_command_rows_name_real_commands_and_options(usage: str) -> None:
    words = usage.split()
    assert words[0] == "lupusim"
    command = typer.main.get_command(app)  # typer's own click: duck-typed below
    for word in words[1:]:
        subcommands = getattr(command, "commands", {})
        if word not in subcommands:
            break
        command = subcommands[word]
    assert not hasattr(command, "commands"), f"{usage!r} names a group, not a command"
    params = command.params
    known = {o for p in params for o in (*p.opts, *getattr(p, "secondary_opts", ()))}
    named = set(re.findall(r"--[a-z][a-z0-9-]*", usage))
    assert named <= known, f"{usage!r}: not options of the command: {sorted(named - known)}"


def _relative_links(text: str) -> list[str]:
    links = re.findall(r"\]\(([^)]+)\)", text)
    return [ln.split("#", 1)[0] for ln in links if not re.match(r"[a-z]+:", ln)]


@pytest.mark.parametrize("doc", ["README.md", "docs/performance.md"])
def test_relative_links_resolve(doc: str) -> None:
    path = ROOT / doc
    for link in _relative_links(path.read_text(encoding="utf-8")):
        if link:
            assert (path.parent / link).is_file(), f"{doc}: broken link {link}"


def test_performance_names_existing_benchmarks_and_results() -> None:
    text = PERFORMANCE.read_text(encoding="utf-8")
    scripts = set(re.findall(r"benchmarks/[\w/]+\.(?:py|sh)", text))
    results = set(re.findall(r"\b(?:vm|h100)-2\d{3}-\d\d-\d\d-[\w.-]*?\.json", text))
    assert scripts and results
    for script in scripts:
        assert (ROOT / script).is_file(), script
    for name in results:
        assert (ROOT / "benchmarks" / "results" / name).is_file(), name


def _snippets() -> list[str]:
    section = README.split("## Library use", 1)[1].split("\n## ", 1)[0]
    blocks = _code_blocks(section, "python")
    assert len(blocks) == 2
    return blocks


def test_library_snippets_compile() -> None:
    for i, block in enumerate(_snippets()):
        compile(block, f"README snippet {i + 1}", "exec")


def test_first_library_snippet_runs() -> None:
    namespace: dict[str, object] = {}
    exec(compile(_snippets()[0], "README snippet 1", "exec"), namespace)
    protein = np.asarray(namespace["protein"])
    assert protein.shape == (1, 365)
    assert np.isfinite(protein).all()
