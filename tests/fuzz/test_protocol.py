"""Fuzzing protocol YAML and scoring configuration files (issue 13, item 3).

Protocol cases start from ``examples/trials/deng2017.yaml`` and replace leaves with
generated values (non-finite numbers, overflow, wrong types, huge numbers), delete or
add keys, duplicate a key in the text, truncate it, re-encode it or replace it with
random bytes. :func:`load_protocol` returns a protocol or raises one ``InputError`` line;
where it refuses a file, ``lupusim trial run`` exits 2 with that line and creates no
output folder.
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fuzz._support import ENCODINGS, FUZZ, assert_clean_outcome, record, run_cli
from lupusim.clinical.output import load_config
from lupusim.errors import InputError
from lupusim.trial import Protocol, load_protocol

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "trials" / "deng2017.yaml"
BASE: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))

Path_ = tuple[str | int, ...]


def _leaves(node: Any, path: Path_ = ()) -> list[Path_]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _leaves(v, (*path, k))] or [path]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _leaves(v, (*path, i))] or [path]
    return [path]


LEAVES = _leaves(BASE)

odd_value = st.one_of(
    st.sampled_from(
        [
            float("inf"),
            float("-inf"),
            float("nan"),
            "1e400",
            "-1e400",
            "nan",
            1e308,
            10**30,
            -1,
            0,
            True,
            None,
            "abc",
            [],
            {},
            [1, 2],
        ]
    ),
    st.floats(),
    st.integers(),
    st.text(max_size=10),
)


def _set(data: Any, path: Path_, value: Any) -> None:
    node = data
    for key in path[:-1]:
        node = node[key]
    if path:
        node[path[-1]] = value


def _delete(data: Any, path: Path_) -> None:
    node = data
    for key in path[:-1]:
        node = node[key]
    if path:
        del node[path[-1]]


@st.composite
def protocol_bytes(draw: st.DrawFn) -> bytes:
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(("leaf", "leaf", "leaf", "delete", "unknown_key")))
        leaves = _leaves(data)
        path = draw(st.sampled_from(leaves))
        try:
            if kind == "leaf":
                _set(data, path, draw(odd_value))
            elif kind == "delete":
                _delete(data, path)
            else:
                _set(data, (*path[:-1], draw(st.text(min_size=1, max_size=8))), 1)
        except (KeyError, IndexError, TypeError):  # the path vanished with an earlier edit
            pass
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    form = draw(st.sampled_from(("yaml", "yaml", "yaml", "dup_key", "truncate", "bytes", "empty")))
    if form == "dup_key":
        text = text + text.splitlines()[0] + "\n"
    elif form == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif form == "bytes":
        return draw(st.binary(max_size=300))
    elif form == "empty":
        return b""
    return text.encode(draw(st.sampled_from(ENCODINGS)), errors="replace")


@FUZZ
@given(data=protocol_bytes())
def test_protocol_yaml_fuzz(data: bytes) -> None:
    record("protocol YAML (load_protocol, lupusim trial run)")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "protocol.yaml"
        path.write_bytes(data)
        try:
            assert isinstance(load_protocol(path), Protocol)
            return
        except InputError as exc:
            message = str(exc)
        assert "\n" not in message and message.startswith(str(path))
        out = Path(d) / "out"
        code, _, err = run_cli("trial", "run", str(path), "--out", str(out), "--no-progress")
        assert_clean_outcome(code, err, out)
        assert code == 2 and err.strip() == f"lupusim: error: {message}"


config_value = st.one_of(odd_value, st.sampled_from(["SLEDAI-2K", "24h", 10, 0.5]))
KNOBS = ["sledai_window_days", "c3_lln_default_g_l", "sri_k", "egfr_normal_min", "oops"]


@FUZZ
@given(
    knobs=st.dictionaries(st.sampled_from(KNOBS), config_value, max_size=3),
    form=st.sampled_from(("yaml", "json", "dup_key", "bytes")),
    raw=st.binary(max_size=50),
)
def test_scoring_config_fuzz(knobs: dict[str, Any], form: str, raw: bytes) -> None:
    record("scoring configuration (--config)")
    with tempfile.TemporaryDirectory() as d:
        suffix = ".json" if form == "json" else ".yaml"
        path = Path(d) / f"config{suffix}"
        if form == "json":
            path.write_text(json.dumps(knobs), encoding="utf-8")
        elif form == "bytes":
            path.write_bytes(raw)
        else:
            text = yaml.safe_dump(knobs, allow_unicode=True)
            if form == "dup_key" and knobs:
                text += text.splitlines()[0] + "\n"
            path.write_text(text, encoding="utf-8")
        try:
            load_config(path)
        except InputError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(str(path))


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    text = EXAMPLE.read_text(encoding="utf-8")
    path.write_text(text + "follow_up_weeks: 520\n", encoding="utf-8")
    with pytest.raises(InputError, match="duplicate key 'follow_up_weeks' at line"):
        load_protocol(path)


def test_trial_run_refuses_a_bad_range_option_before_any_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    path = EXAMPLE
    code, _, err = run_cli("trial", "run", str(path), "--out", str(out), "--range", "dose=1:2")
    assert_clean_outcome(code, err, out)
    assert err == "lupusim: error: --range dose: no such range\n"
