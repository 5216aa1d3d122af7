"""The one-line event format printed in pipes and CI."""

from __future__ import annotations

from murano_flow.cli.progress import event_line
from murano_flow.store.base import Event


def test_an_attempt_is_named_once():
    running = event_line(Event("d", 0.0, "running", "a.S", attempt=3,
                               message="attempt 3 on local:a"))
    assert running.count("attempt 3") == 1
    failed = event_line(Event("d", 0.0, "failed", "a.S", attempt=3, message="exit code 2"))
    assert failed.endswith("exit code 2 (attempt 3)")
    first = event_line(Event("d", 0.0, "failed", "a.S", attempt=1, message="exit code 2"))
    assert first.endswith("exit code 2")
