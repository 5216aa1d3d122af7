"""Waiting out a reboot (transports/reboots.py): down, then up again - or, where the
transport can tell boots apart, no longer in the boot it was in."""

from __future__ import annotations

from murano_flow.transports import reboots


def test_a_host_seen_in_a_new_boot_has_rebooted_though_never_seen_down():
    polls = iter([True, False])  # the first boot's shell, then a host without it
    said = reboots.wait(lambda: True, "h", "shutdown /r", 5, poll=0.01,
                        same_boot=lambda: next(polls))
    assert said == ""
    # told only "it answers", the same host never looks rebooted
    said = reboots.wait(lambda: True, "h", "shutdown /r", 0.05, poll=0.01)
    assert said == "asked h to reboot (shutdown /r) but it did not go down within 0.05s"


def test_a_host_in_a_new_boot_must_still_answer_before_the_next_step():
    up = iter([False, False, True])
    assert reboots.wait(lambda: next(up), "h", "x", 5, poll=0.01,
                        same_boot=lambda: False) == ""
    assert reboots.wait(lambda: False, "h", "x", 0.05, poll=0.01, same_boot=lambda: False) \
        == "h did not come back within 0.05s of its reboot"
