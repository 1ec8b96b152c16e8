"""One evaluation of a protocol endpoint: names checked, common random numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from lupusim.errors import LupusimError
from lupusim.model import get_preset
from lupusim.sensitivity import EndpointEvaluator, resolve_output
from lupusim.sensitivity._endpoint import with_parameters
from lupusim.trial import load_protocol

ROOT = Path(__file__).resolve().parents[2]
ALMS = load_protocol(ROOT / "examples" / "trials" / "alms.yaml")


def test_output_names_are_checked() -> None:
    out = resolve_output(ALMS)
    assert (out.endpoint, out.arm, out.minus) == ("response_week24", "mycophenolate", None)
    out = resolve_output(
        ALMS, "cumulative_prednisone", contrast="mycophenolate-iv_cyclophosphamide"
    )
    assert (out.arm, out.minus) == ("mycophenolate", "iv_cyclophosphamide")
    with pytest.raises(LupusimError, match=r"unknown endpoint 'nope' .*known: response_week24, "):
        resolve_output(ALMS, "nope")
    with pytest.raises(LupusimError, match=r"unknown arm 'x' .*known: mycophenolate, iv_cyc"):
        resolve_output(ALMS, arm="x")
    with pytest.raises(LupusimError, match=r"--contrast: .*arms: mycophenolate, iv_cyc"):
        resolve_output(ALMS, contrast="mycophenolate-placebo")
    with pytest.raises(LupusimError, match="--contrast"):
        resolve_output(ALMS, contrast="mycophenolate-mycophenolate")


def test_common_random_numbers_same_values_same_output() -> None:
    ev = EndpointEvaluator(ALMS, resolve_output(ALMS, "serious_infections"), subjects=8, seed=3)
    reference = ev.reference()
    changed = {"glucocorticoid_half_effect": 40.0, "antimetabolite_b_kill": 0.03}
    first = ev.estimates(changed)
    ev.estimates({"glucocorticoid_half_effect": 10.0})  # another point in between
    again = ev.estimates(changed)
    assert first == again  # identical, not merely close
    assert ev(changed) == first["mycophenolate"]
    # the whole visit table (assay noise included) is the same draw
    a, b = ev.simulate(changed), ev.simulate(changed)
    assert a.visits.equals(b.visits) and a.outcomes.equals(b.outcomes)
    assert ev.estimates({}) == reference
    # rebuilding the population under the preset's values gives the same patients
    rebuilt = EndpointEvaluator(
        ALMS, resolve_output(ALMS, "serious_infections"), subjects=8, seed=3, population="rebuild"
    )
    assert rebuilt.reference() == reference
    assert rebuilt.estimates(changed) == rebuilt.estimates(changed)


def test_fixed_population_rescales_each_patients_parameters() -> None:
    ev = EndpointEvaluator(ALMS, resolve_output(ALMS), subjects=5, seed=3)
    preset = get_preset("human")
    chunk = ev.build(preset)
    j = preset.model.parameter_index("k_renal_injury")  # varies between patients
    k = preset.model.parameter_index("k_b_loss")  # the same for everyone
    value = preset.values["k_renal_injury"].value
    scaled = with_parameters(preset, chunk, {"k_renal_injury": 2 * value, "k_b_loss": 0.03})
    assert scaled.parameters[:, j] == pytest.approx(2 * chunk.parameters[:, j])
    assert scaled.parameters[:, k] == pytest.approx(0.03)
    others = [i for i in range(chunk.parameters.shape[1]) if i not in (j, k)]
    assert (scaled.parameters[:, others] == chunk.parameters[:, others]).all()
    assert (scaled.state == chunk.state).all()
