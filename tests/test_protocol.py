"""The trial protocol schema: shipped designs load and compile; bad ones name the field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from lupusim.errors import InputError
from lupusim.model import get_preset
from lupusim.treatments import MSCInfusion, Regimen, TreatOnRelapse
from lupusim.trial import (
    INSTRUMENTS,
    Protocol,
    load_protocol,
    protocol_from_dict,
)

TRIALS = Path(__file__).resolve().parents[1] / "examples" / "trials"
SHIPPED = ("seed_pilot", "deng2017", "alms", "long_term_msc", "elnt")


@pytest.fixture(scope="module")
def human() -> Any:
    return get_preset("human")


def _raw(name: str) -> dict[str, Any]:
    data = yaml.safe_load((TRIALS / f"{name}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_all_shipped_protocols_present() -> None:
    assert sorted(p.stem for p in TRIALS.glob("*.yaml")) == sorted(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_protocol_loads_and_compiles(name: str, human: Any) -> None:
    protocol = load_protocol(TRIALS / f"{name}.yaml")
    assert protocol.name == name
    assert protocol.source
    params = human.parameter_vector()
    for arm in protocol.arms:
        regimen = arm.to_regimen()
        assert isinstance(regimen, Regimen)
        assert regimen.name == arm.name
        assert regimen.events(human.model, params), arm.name
    for ep in protocol.endpoints:
        if ep.kind == "instrument_at_week":
            assert ep.instrument in INSTRUMENTS
    assert sum(protocol.n_per_arm().values()) >= 1


@pytest.mark.parametrize("name", SHIPPED)
def test_round_trip(name: str) -> None:
    protocol = load_protocol(TRIALS / f"{name}.yaml")
    assert Protocol.model_validate(protocol.model_dump()) == protocol
    assert Protocol.model_validate_json(protocol.model_dump_json()) == protocol


def test_deng_design() -> None:
    p = load_protocol(TRIALS / "deng2017.yaml")
    assert p.allocation.ratio == {"uc_msc": 2, "placebo": 1}
    assert p.sample_size.total == 18
    assert p.n_per_arm() == {"uc_msc": 12, "placebo": 6}
    msc = [d for d in p.arm("uc_msc").to_regimen().doses if isinstance(d, MSCInfusion)]
    assert sum(d.cells or 0.0 for d in msc) == pytest.approx(2e8)
    assert len(msc) == 2 and {d.source for d in msc} == {"uc_allogeneic"}
    assert not any(isinstance(d, MSCInfusion) for d in p.arm("placebo").to_regimen().doses)
    primary = [e for e in p.endpoints if e.primary]
    assert len(primary) == 1 and primary[0].kind == "instrument_at_week"
    assert primary[0].instrument == "renal_deng_2017" and primary[0].week == 26


def test_seed_pilot_design() -> None:
    p = load_protocol(TRIALS / "seed_pilot.yaml")
    assert [a.name for a in p.arms] == ["msc"]
    (msc,) = [d for d in p.arms[0].to_regimen().doses if isinstance(d, MSCInfusion)]
    assert msc.cells_per_kg == 1e6 and msc.day == 0
    assert p.follow_up_weeks == 52
    hist = p.population.treatment_history
    assert hist is not None and hist.refractory is not None
    assert hist.refractory.min_months == 6


def test_long_term_reinfusion_policy() -> None:
    p = load_protocol(TRIALS / "long_term_msc.yaml")
    assert p.follow_up_weeks == 260
    assert not p.arm("single_infusion").to_regimen().policies
    (policy,) = p.arm("reinfusion_on_relapse").to_regimen().policies
    assert isinstance(policy, TreatOnRelapse)
    assert isinstance(policy.doses[0], MSCInfusion)
    kinds = {e.kind for e in p.endpoints}
    assert kinds == {
        "instrument_at_week",
        "time_to_event",
        "rate_per_100py",
        "cumulative_glucocorticoid",
    }


def test_alms_arms() -> None:
    p = load_protocol(TRIALS / "alms.yaml")
    assert set(p.allocation.ratio) == {"mycophenolate", "iv_cyclophosphamide"}
    assert p.follow_up_weeks == 24
    instruments = {e.instrument for e in p.endpoints if e.kind == "instrument_at_week"}
    assert instruments == {"renal_alms"}


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(d: dict[str, Any]) -> None:
        node: Any = d
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


def _drop(path: list[Any]) -> Callable[[dict[str, Any]], None]:
    def edit(d: dict[str, Any]) -> None:
        node: Any = d
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return edit


def _prepend_placebo_msc(d: dict[str, Any]) -> None:
    d["arms"][1]["doses"].insert(0, {"kind": "msc", "day": 0, "cells_per_kg": -1.0})


# (edit of deng2017.yaml, the field path the error must name, a fragment of the message)
BAD: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    (
        "negative cells/kg",
        _prepend_placebo_msc,
        "arms[1].doses[0].cells_per_kg",
        "greater than 0",
    ),
    (
        "both cells and cells/kg",
        _set(["arms", 0, "doses", 0, "cells_per_kg"], 1e6),
        "arms[0].doses[0]",
        "exactly one of cells_per_kg or cells",
    ),
    (
        "unknown dose kind",
        _set(["arms", 0, "doses", 0, "kind"], "stem_cells"),
        "arms[0].doses[0]",
        "stem_cells",
    ),
    (
        "unknown instrument",
        _set(["endpoints", 0, "instrument"], "sledai3k"),
        "endpoints[0].instrument",
        "renal_deng_2017",
    ),
    (
        "endpoint after follow-up",
        _set(["endpoints", 0, "week"], 30),
        "endpoints[0].week",
        "after follow-up",
    ),
    (
        "endpoint week not a visit",
        _set(["endpoints", 0, "week"], 25),
        "endpoints[0].week",
        "not a scheduled visit",
    ),
    (
        "bad responder value",
        _set(["endpoints", 0, "responder_values"], ["yes"]),
        "endpoints[0].responder_values",
        "complete",
    ),
    (
        "allocation misses an arm",
        _drop(["allocation", "ratio", "placebo"]),
        "allocation.ratio",
        "do not match",
    ),
    (
        "dose after follow-up",
        _set(["arms", 0, "doses", 2, "day"], 400),
        "arms[0].doses[2].day",
        "after follow-up",
    ),
    (
        "unknown observable",
        _set(["population", "inclusion", 0, "observable"], "proteinuria"),
        "population.inclusion[0].observable",
        "upcr_g_per_g",
    ),
    (
        "wrong unit",
        _set(["population", "inclusion", 0, "unit"], "mg/day"),
        "population.inclusion[0].unit",
        "g/day",
    ),
    (
        "bad operator",
        _set(["population", "inclusion", 0, "op"], "=>"),
        "population.inclusion[0].op",
        ">=",
    ),
    ("unknown top-level key", _set(["colour"], "red"), "colour", "Extra inputs"),
    ("two visit schedules", _set(["visits", "every_weeks"], 4), "visits", "exactly one of"),
    (
        "taper not increasing",
        _set(["arms", 0, "doses", 4, "steps", 1, "day"], 1),
        "arms[0].doses[4].steps",
        "increase",
    ),
    ("missing source", _drop(["source"]), "source", "Field required"),
    (
        "unknown event",
        _set(["endpoints", 2, "event"], "headache"),
        "endpoints[2].event",
        "serious_infection",
    ),
    (
        "stop before start",
        _set(["arms", 0, "doses", 5, "stop_day"], 10),
        "arms[0].doses[5].stop_day",
        "after start_day",
    ),
    (
        "per-arm size for unknown arm",
        _set(["sample_size"], {"per_arm": {"uc_msc": 12, "control": 6}}),
        "sample_size.per_arm",
        "do not match",
    ),
    (
        "numeric instrument with responder values",
        _set(["endpoints", 1, "responder_values"], ["Y"]),
        "endpoints[1].responder_values",
        "numeric",
    ),
    # numbers (issue 13): finite, the right type, within the range table
    (
        "infinite dose",
        _set(["arms", 0, "doses", 5, "g_per_day"], float("inf")),
        "arms[0].doses[5].g_per_day",
        "value inf: not a finite number",
    ),
    (
        "NaN follow-up",
        _set(["follow_up_weeks"], float("nan")),
        "follow_up_weeks",
        "value nan: not a finite number",
    ),
    (
        "dose given as text",
        _set(["arms", 0, "doses", 5, "g_per_day"], "2"),
        "arms[0].doses[5].g_per_day",
        "value '2': Input should be a valid number",
    ),
    (
        "dose given as a boolean",
        _set(["arms", 0, "doses", 5, "g_per_day"], True),
        "arms[0].doses[5].g_per_day",
        "value True: Input should be a valid number",
    ),
    (
        "mycophenolate above label x margin",
        _set(["arms", 0, "doses", 5, "g_per_day"], 30),
        "arms[0].doses[5].g_per_day",
        "value 30: outside the plausible range 0-4.5 g/day of dose_mycophenolate_g_per_day",
    ),
    (
        "methylprednisolone in grams typed as mg x 1000",
        _set(["arms", 0, "doses", 2, "mg_per_day"], 500000),
        "arms[0].doses[2].mg_per_day",
        "outside the plausible range 0-1500 mg/day",
    ),
    (
        "taper step above the prednisone range",
        _set(["arms", 0, "doses", 4, "steps", 0, "mg_per_day"], 600),
        "arms[0].doses[4].steps[0].mg_per_day",
        "dose_prednisone_mg_per_day",
    ),
    (
        "criterion value outside its observable's range",
        _set(["population", "inclusion", 0, "value"], 5000),
        "population.inclusion[0].value",
        "value 5000: outside the plausible range 0-50 g/day of protein_24h_g",
    ),
    (
        "sample size beyond any run",
        _set(["sample_size", "total"], 10**30),
        "sample_size.total",
        "outside the plausible range",
    ),
]


@pytest.mark.parametrize(("label", "edit", "field", "fragment"), BAD, ids=[b[0] for b in BAD])
def test_bad_protocol_names_the_field(
    label: str, edit: Callable[[dict[str, Any]], None], field: str, fragment: str
) -> None:
    data = copy.deepcopy(_raw("deng2017"))
    edit(data)
    with pytest.raises(InputError) as info:
        protocol_from_dict(data, file="deng2017.yaml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"deng2017.yaml: {field}: "), message
    assert fragment in message, message


def test_load_protocol_names_file_and_field(tmp_path: Path) -> None:
    data = _raw("seed_pilot")
    data["arms"][0]["doses"][0]["cells_per_kg"] = 0
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_protocol(path)
    assert str(info.value) == (
        f"{path}: arms[0].doses[0].cells_per_kg: value 0: Input should be greater than 0"
    )


def test_load_protocol_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError, match="invalid YAML"):
        load_protocol(path)
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(InputError, match="mapping"):
        load_protocol(path)
    with pytest.raises(InputError, match="cannot read"):
        load_protocol(tmp_path / "absent.yaml")


def test_widened_range_admits_the_dose() -> None:
    from lupusim.clinical import ranges_from_options

    data = copy.deepcopy(_raw("deng2017"))
    data["arms"][0]["doses"][5]["g_per_day"] = 6.0
    with pytest.raises(InputError, match="dose_mycophenolate_g_per_day"):
        protocol_from_dict(data)
    wide = ranges_from_options(["dose_mycophenolate_g_per_day=0:8"])
    assert protocol_from_dict(data, ranges=wide).arms[0].doses[5].g_per_day == 6.0


def test_yaml_numbers_duplicates_and_encodings(tmp_path: Path) -> None:
    text = (TRIALS / "deng2017.yaml").read_text(encoding="utf-8")
    path = tmp_path / "p.yaml"
    # 1e6 is a number (YAML 1.2), 1e400 overflows to inf and is refused
    path.write_text(text.replace("g_per_day: 2.0", "g_per_day: 2e0", 1), encoding="utf-8")
    assert load_protocol(path) == load_protocol(TRIALS / "deng2017.yaml")
    path.write_text(text.replace("g_per_day: 2.0", "g_per_day: 2e400", 1), encoding="utf-8")
    with pytest.raises(InputError, match=r"g_per_day: value inf: not a finite number$"):
        load_protocol(path)
    path.write_text(text + "seed: 1\n", encoding="utf-8")
    with pytest.raises(InputError, match="invalid YAML: duplicate key 'seed' at line"):
        load_protocol(path)
    path.write_bytes(text.encode("utf-16"))
    assert load_protocol(path) == load_protocol(TRIALS / "deng2017.yaml")
    path.write_bytes(b"name: D\xe8ng\n")  # latin-1, not UTF-8
    with pytest.raises(InputError, match="not UTF-8 text"):
        load_protocol(path)


def test_models_are_frozen() -> None:
    p = load_protocol(TRIALS / "seed_pilot.yaml")
    with pytest.raises(Exception, match="frozen"):
        p.name = "other"  # type: ignore[misc]


def test_docs_example_validates() -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "trials.md").read_text("utf-8")
    block = docs.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert protocol_from_dict(yaml.safe_load(block)) == load_protocol(TRIALS / "deng2017.yaml")


def test_criteria_and_schedule() -> None:
    p = load_protocol(TRIALS / "alms.yaml")
    upcr = next(c for c in p.population.inclusion if c.observable == "upcr_g_per_g")
    assert upcr.holds(1.0) and upcr.holds(3.2) and not upcr.holds(0.9)
    assert p.visit_weeks() == [0, 4, 8, 12, 16, 20, 24]
    assert load_protocol(TRIALS / "long_term_msc.yaml").visit_weeks()[-1] == 260


def test_a_key_with_a_line_break_is_named_on_one_line() -> None:
    """A key holding U+0085 (a line break to Python) is shown escaped, found by fuzzing."""
    data = yaml.safe_load((TRIALS / "deng2017.yaml").read_text())
    data[" \x85"] = 1
    with pytest.raises(InputError) as info:
        protocol_from_dict(data, file="p.yaml")
    message = str(info.value)
    assert len(message.splitlines()) == 1
    assert "' \\x85': value 1: Extra inputs are not permitted" in message
