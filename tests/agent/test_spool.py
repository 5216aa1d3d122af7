"""The agent's spool: what a restart finds, in every crash window."""

from __future__ import annotations

import os
import stat

from murano_flow_agent.spool import Spool, atomic_write


def test_spool_directory_is_private(tmp_path):
    spool = Spool(tmp_path / "spool")
    assert stat.S_IMODE(os.stat(spool.root).st_mode) == 0o700
    spool.accept("d/n/action/1", b"{}", {})
    plan_file = next((spool.root / "plans").glob("*.json"))
    assert stat.S_IMODE(os.stat(plan_file).st_mode) == 0o600


def test_a_plan_id_is_accepted_once(tmp_path):
    spool = Spool(tmp_path)
    assert spool.accept("p1", b'{"x": 1}', {"mf-nonce": "n"})
    assert not spool.accept("p1", b'{"x": 1}', {"mf-nonce": "n"})
    assert spool.plan("p1") == (b'{"x": 1}', {"mf-nonce": "n"})


def test_restart_sees_each_crash_window(tmp_path):
    spool = Spool(tmp_path)
    for pid in ("waiting", "crashed-mid-run", "done-not-published", "all-done"):
        spool.accept(pid, b"{}", {})
    for pid in ("crashed-mid-run", "done-not-published", "all-done"):
        spool.start(pid)
    for pid in ("done-not-published", "all-done"):
        spool.finish(pid, b'{"status": "ok"}')
    spool.published("all-done")

    again = Spool(tmp_path)  # the agent restarts
    assert again.waiting() == ["waiting"]
    assert again.interrupted() == ["crashed-mid-run"]
    assert again.unpublished() == ["done-not-published"]
    assert again.result("all-done") == b'{"status": "ok"}'
    assert again.result("waiting") is None


def test_atomic_write_replaces_whole_files(tmp_path):
    path = tmp_path / "f"
    atomic_write(path, b"one")
    atomic_write(path, b"two")
    assert path.read_bytes() == b"two" and not list(tmp_path.glob(".*.tmp"))


def test_nonces_survive_and_a_corrupt_file_is_ignored(tmp_path):
    spool = Spool(tmp_path)
    spool.save_nonces({"a": 1.5})
    assert Spool(tmp_path).load_nonces() == {"a": 1.5}
    (tmp_path / "nonces.json").write_text("{broken")
    assert Spool(tmp_path).load_nonces() == {}
