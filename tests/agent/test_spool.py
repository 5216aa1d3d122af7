"""The agent's spool: what a restart finds, in every crash window."""

from __future__ import annotations

import os
import stat
import time

from murano_flow_agent.spool import Spool, atomic_write


def test_spool_directory_is_private(tmp_path):
    spool = Spool(tmp_path / "spool")
    assert stat.S_IMODE(os.stat(spool.root).st_mode) == 0o700
    spool.accept("d/n/action/1", b"{}", {}, "replies")
    plan_file = next((spool.root / "plans").glob("*.json"))
    assert stat.S_IMODE(os.stat(plan_file).st_mode) == 0o600


def test_a_plan_id_is_accepted_once(tmp_path):
    spool = Spool(tmp_path)
    assert spool.accept("p1", b'{"x": 1}', {"mf-nonce": "n"}, "r1")
    assert not spool.accept("p1", b'{"x": 1}', {"mf-nonce": "n"}, "r2")
    assert spool.plan("p1") == (b'{"x": 1}', {"mf-nonce": "n"})
    assert spool.reply_to("p1") == "r1"
    spool.redirect("p1", "r2")  # the plan was re-sent by a restarted engine
    assert Spool(tmp_path).reply_to("p1") == "r2"


def test_restart_sees_each_crash_window(tmp_path):
    spool = Spool(tmp_path)
    for pid in ("waiting", "crashed-mid-run", "done-not-published", "rebooting", "all-done"):
        spool.accept(pid, b"{}", {}, "replies")
    for pid in ("crashed-mid-run", "done-not-published", "rebooting", "all-done"):
        spool.start(pid)
    for pid in ("done-not-published", "rebooting", "all-done"):
        spool.finish(pid, b'{"status": "ok"}')
    spool.reboot_pending("rebooting")
    spool.published("all-done")

    again = Spool(tmp_path)  # the agent restarts
    assert again.waiting() == ["waiting"]
    assert again.interrupted() == ["crashed-mid-run"]
    assert again.unpublished() == ["done-not-published"]  # not before the reboot happened
    assert again.rebooting() == ["rebooting"]
    again.reboot_pending("rebooting", False)
    assert sorted(again.unpublished()) == ["done-not-published", "rebooting"]
    assert again.result("all-done") == b'{"status": "ok"}'
    assert again.result("waiting") is None


def test_atomic_write_replaces_whole_files(tmp_path):
    path = tmp_path / "f"
    atomic_write(path, b"one")
    atomic_write(path, b"two")
    assert path.read_bytes() == b"two" and not list(tmp_path.glob(".*.tmp"))


def test_nonces_come_back_from_the_spooled_plans(tmp_path):
    spool = Spool(tmp_path)
    spool.accept("p1", b"{}", {"mf-nonce": "n1", "mf-stamp": "10.5"}, "r")
    spool.accept("p2", b"{}", {}, "r")  # unsigned plans are never spooled; tolerate anyway
    (tmp_path / "plans" / "junk.json").write_text("{broken")
    assert Spool(tmp_path).nonces() == {"n1": 10.5}


def test_prune_forgets_only_old_published_plans(tmp_path):
    spool = Spool(tmp_path)
    for pid in ("old-done", "old-unpublished", "new-done"):
        spool.accept(pid, b"{}", {}, "r")
        spool.start(pid)
        spool.finish(pid, b"{}")
    spool.published("old-done")
    spool.published("new-done")
    old = time.time() - 3 * 24 * 3600
    for pid in ("old-done", "old-unpublished"):
        os.utime(spool._path("plans", pid), (old, old))
    assert spool.prune(time.time() - 24 * 3600) == 1
    assert not spool.known("old-done") and spool.result("old-done") is None
    assert spool.known("old-unpublished") and spool.known("new-done")


def test_a_body_whose_drop_a_crash_undid_is_dropped_at_the_restart(tmp_path):
    # published() does not fsync its rewrite of the plan without its body: a power loss may
    # bring the body (the plan's secrets, encrypted) back; the restarting agent drops it.
    from murano_flow_agent.agent import Agent
    from murano_flow_agent.config import AgentConfig

    spool = Spool(tmp_path)
    for pid in ("answered", "unanswered"):
        spool.accept(pid, b"sealed plan", {}, "r")
        spool.start(pid)
        spool.finish(pid, b'{"status": "ok"}')
    path = spool._path("plans", "answered")
    as_received = path.read_bytes()
    spool.published("answered")
    assert spool.plan("answered")[0] == b""
    path.write_bytes(as_received)  # what the disk held after the power loss
    Agent(AgentConfig(broker="amqp://127.0.0.1:1/", queue="q", key="k" * 64,
                      spool=tmp_path))._recover()
    assert spool.plan("answered")[0] == b""
    assert spool.plan("unanswered")[0] == b"sealed plan"  # kept until its result is confirmed
    assert spool.drop_published_bodies() == 0


def test_markers_are_created_in_place_and_survive_a_restart(tmp_path):
    spool = Spool(tmp_path)
    spool.accept("p", b"{}", {}, "r")
    spool.start("p")
    spool.start("p")  # a re-attached plan started again: still one marker
    spool.reboot_pending("p")
    again = Spool(tmp_path)
    assert again.interrupted() == ["p"] and again.reboot_is_pending("p")
    assert not list(tmp_path.rglob(".*.tmp"))
