"""Plans and results on the wire: round trips and clear decode errors."""

from __future__ import annotations

import pytest

from murano_flow.errors import DecodeError
from murano_flow.masking import Masker
from murano_flow.protocol import Plan, Result


def test_plan_round_trip():
    plan = Plan(id="d/n/action/1", deployment="d", node="n", kind="action", attempt=1,
                script_type="sh", body="echo", args=("a",), env={"K": "v"}, params={"x": [1]})
    assert Plan.decode(plan.encode()) == plan


def test_result_round_trip():
    res = Result("p", "ok", 0, outputs={"url": "u"})
    assert Result.decode(res.encode()) == res and res.ok


@pytest.mark.parametrize("data,message", [
    (b"not json", "not JSON"),
    (b"[1]", "not a JSON object"),
    (b'{"plan_id": "p"}', "missing field 'status'"),
    (b'{"plan_id": "p", "status": "maybe"}', "status 'maybe'"),
    (b'{"plan_id": 5, "status": "ok"}', "wrong type"),
    (b'{"plan_id": "p", "status": "ok", "outputs": []}', "outputs must be"),
    (b'{"plan_id": "p", "status": "ok", "extra": 1}', "unexpected keyword"),
])
def test_bad_results_are_decode_errors(data: bytes, message: str):
    with pytest.raises(DecodeError, match=message):
        Result.decode(data)


def test_bad_plan_kind_and_interpreter():
    good = Plan("i", "d", "n", "action", 1, "sh", "b").encode()
    with pytest.raises(DecodeError, match="kind"):
        Plan.decode(good.replace(b'"action"', b'"destroy"'))
    with pytest.raises(DecodeError, match="script_type"):
        Plan.decode(good.replace(b'"sh"', b'"cmd"'))


def test_masker_masks_longest_secret_first_and_nested_data():
    m = Masker(["abc", "abcdef", ""])
    assert m.text("x abcdef y abc") == "x ****** y ******"
    assert m.data({"k": ["abc", 1, {"z": "abcdef!"}]}) == {"k": ["******", 1, {"z": "******!"}]}
    assert Masker().text("abc") == "abc"
