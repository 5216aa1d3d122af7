"""Waiting out a host's reboot: it must first stop answering, then answer again.

Both halves matter: a host polled only for "answers" would look rebooted before it even
went down. Polls are a second or two apart; where the transport can tell one boot from the
next (WinRM: a shell opened before the reboot is gone after it), a reboot quicker than a
poll is seen too.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from ..wire.protocol import Plan, Result, reboot_due

log = logging.getLogger(__name__)


def after_step(plan: Plan, result: Result, reboot: Callable[[], str]) -> Result:
    """``result`` of ``plan``, after ``reboot()`` if the step reboots (``reboot: true`` and
    it succeeded, or ``reboot: needed`` and it asked: :func:`reboot_due`); an error saying
    what went wrong if the host did not go down and come back."""
    result, due = reboot_due(plan, result)
    if not due:
        return result
    problem = reboot()
    return dataclasses.replace(result, status="error", message=problem) if problem else result


def wait(answers: Callable[[], bool], host: str, command: str, timeout: float, *,
         poll: float = 1.0, same_boot: Callable[[], bool] | None = None) -> str:
    """Wait, within ``timeout`` seconds in all, for ``host`` to go down and come back after
    ``command`` asked it to reboot; '' once it did, else what went wrong. ``same_boot``,
    if given, says whether the host is still in the boot it was in before (False once it
    is down or booted again), so a reboot quicker than a poll is not missed."""
    deadline = time.monotonic() + timeout
    while (same_boot or answers)():
        if time.monotonic() > deadline:
            return (f"asked {host} to reboot ({command}) but it did not go down within "
                    f"{timeout:g}s")
        time.sleep(poll)
    log.info("%s went down for its reboot", host)
    while not answers():
        if time.monotonic() > deadline:
            return f"{host} did not come back within {timeout:g}s of its reboot"
        time.sleep(poll)
    log.info("%s is back from its reboot", host)
    return ""
