"""Message authentication: what verifies, and every way a message is refused."""

from __future__ import annotations

import pytest

from murano_flow.errors import SignatureError
from murano_flow.wire.signing import NONCE, SIGNATURE, STAMP, ReplayGuard, new_key, sign, verify

KEY = new_key()
BODY = b'{"id": "d/web[0].Installed/action/1"}'


def test_a_signed_message_verifies_once():
    headers = sign(KEY, "agent.web-0", BODY)
    guard = ReplayGuard()
    verify(KEY, "agent.web-0", BODY, headers, guard=guard)
    with pytest.raises(SignatureError) as info:
        verify(KEY, "agent.web-0", BODY, headers, guard=guard)
    assert info.value.reason == "replayed"


@pytest.mark.parametrize("change,reason", [
    (lambda h, b: ({}, b), "unsigned"),
    (lambda h, b: ({**h, SIGNATURE: "00" * 32}, b), "mis-signed"),
    (lambda h, b: (h, b + b" "), "mis-signed"),
    (lambda h, b: ({**h, STAMP: "1.0"}, b), "mis-signed"),  # the stamp is signed too
    (lambda h, b: ({**h, NONCE: "other"}, b), "mis-signed"),
])
def test_tampering_is_refused(change, reason):
    headers, body = change(sign(KEY, "agent.web-0", BODY), BODY)
    with pytest.raises(SignatureError) as info:
        verify(KEY, "agent.web-0", body, headers)
    assert info.value.reason == reason


def test_another_agents_key_or_queue_is_refused():
    with pytest.raises(SignatureError, match="mis-signed"):
        verify(new_key(), "agent.web-0", BODY, sign(KEY, "agent.web-0", BODY))
    with pytest.raises(SignatureError, match="wrong-queue"):
        verify(KEY, "agent.web-1", BODY, sign(KEY, "agent.web-0", BODY))


def test_old_and_future_messages_are_stale():
    old = sign(KEY, "q", BODY, now=1000.0)
    with pytest.raises(SignatureError, match="stale"):
        verify(KEY, "q", BODY, old, now=1000.0 + 90_000)
    verify(KEY, "q", BODY, old, now=1000.0 + 3600)  # an hour in a durable queue is fine
    with pytest.raises(SignatureError, match="stale"):
        verify(KEY, "q", BODY, sign(KEY, "q", BODY, now=5000.0), now=1000.0)


def test_replay_guard_forgets_only_outside_the_window_and_survives_restarts():
    guard = ReplayGuard(max_age=10)
    assert guard.check_and_add("a", 100.0)
    assert not guard.check_and_add("a", 105.0)
    assert guard.check_and_add("b", 200.0)  # 'a' expired
    again = ReplayGuard(max_age=10)
    again.load(guard.dump())
    assert not again.check_and_add("b", 201.0)
