"""Plans and results on the wire: round trips and clear decode errors."""

from __future__ import annotations

import dataclasses

import pytest

from murano_flow.errors import DecodeError
from murano_flow.wire.masking import Masker
from murano_flow.wire.protocol import Plan, Result, reboot_due


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
    (b'{"plan_id": "p", "status": "maybe"}', "'status' must be one of ok, .*not 'maybe'"),
    (b'{"plan_id": 5, "status": "ok"}', "'plan_id' must be a non-empty string, not 5"),
    (b'{"plan_id": "p", "status": "ok", "outputs": []}', "'outputs' must be a JSON object"),
    (b'{"plan_id": "p", "status": "ok", "extra": 1}', "unknown field 'extra'"),
    (b'{"plan_id": "p", "status": "ok", "started": NaN}', "NaN is not a number JSON allows"),
    (b'{"plan_id": "p", "status": "ok", "finished": 1e999}', "'finished' must be a finite"),
    (b'{"plan_id": "p", "status": "ok", "exit_code": true}', "'exit_code' must be a whole"),
])
def test_bad_results_are_decode_errors(data: bytes, message: str):
    with pytest.raises(DecodeError, match=message):
        Result.decode(data)


GOOD_PLAN = Plan("i", "d", "n", "action", 1, "sh", "b").encode()


@pytest.mark.parametrize("field,value,message", [
    ("kind", '"destroy"', "'kind' must be one of action, check, undo"),
    ("script_type", '"cmd"', "'script_type' must be one of sh"),
    ("timeout", "NaN", "NaN is not a number JSON allows"),
    ("timeout", "0", "'timeout' must be a finite number of seconds above 0"),
    ("timeout", "1e12", "'timeout' must be a finite number of seconds above 0, at most"),
    ("reboot", '"no"', "'reboot' must be true or false"),
    ("reboot_if_asked", '"needed"', "'reboot_if_asked' must be true or false"),
    ("idempotent", "1", "'idempotent' must be true or false"),
    ("args", '"abc"', "'args' must be a list of strings"),
    ("args", "[1]", "'args' must be a list of strings"),
    ("env", '["A=b"]', "'env' must be a JSON object of strings"),
    ("env", '{"A": 1}', "'env' must be a JSON object of strings"),
    ("params", '"x"', "'params' must be a JSON object"),
    ("attempt", "-1", "'attempt' must be a whole number"),
    ("attempt", "1.5", "'attempt' must be a whole number"),
    ("stamp", "Infinity", "Infinity is not a number JSON allows"),
    ("expires", '"soon"', "'expires' must be a finite time"),
    ("reply_to", "5", "'reply_to' must be a string"),
    ("id", '""', "'id' must be a non-empty string"),
    ("surprise", "1", "unknown field 'surprise'"),
])
def test_signed_plans_with_odd_values_are_refused_before_anything_runs(field, value, message):
    raw = GOOD_PLAN.decode()[:-1] + f',"{field}":{value}}}'  # the last key wins in JSON
    with pytest.raises(DecodeError, match=message):
        Plan.decode(raw)


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


def test_a_blueprint_cannot_ask_for_a_timeout_the_wire_refuses():
    from murano_flow.blueprint.spec import MAX_TIMEOUT as BLUEPRINT_MAX
    from murano_flow.wire.protocol import MAX_TIMEOUT as WIRE_MAX

    assert BLUEPRINT_MAX == WIRE_MAX


def test_reboot_due_reads_what_the_step_and_its_action_say():
    base = Plan(id="d/n/action/1", deployment="d", node="n", kind="action", attempt=1,
                script_type="sh", body="true")
    needed = dataclasses.replace(base, reboot_if_asked=True)
    ok, failed = Result("d/n/action/1", "ok", 0), Result("d/n/action/1", "failed", 1)
    required = Result("d/n/action/1", "failed", 3010)
    asks = dataclasses.replace(ok, outputs={"reboot_required": True})
    says_no = dataclasses.replace(ok, outputs={"reboot_required": "yes"})  # not true: no
    always = dataclasses.replace(base, reboot=True)
    assert reboot_due(base, required) == (required, False)  # 3010 is a failure unless asked
    assert reboot_due(always, ok) == (ok, True) and reboot_due(always, failed)[1] is False
    assert reboot_due(needed, ok) == (ok, False)
    assert reboot_due(needed, asks) == (asks, True)
    assert reboot_due(needed, says_no) == (says_no, False)
    assert reboot_due(needed, failed) == (failed, False)
    result, due = reboot_due(needed, required)
    assert due and result.ok and result.exit_code == 3010
