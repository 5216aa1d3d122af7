"""The local transport: real subprocesses, inputs as data, outputs, logs, timeouts."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest
from kits.common import alive, wait_until

from murano_flow.transports import LocalTransport
from murano_flow.wire.protocol import Plan


def plan(body: str, *, kind: str = "action", script_type: str = "sh", timeout: float = 30,
         env: dict[str, str] | None = None, params: dict | None = None,
         args: tuple[str, ...] = ()) -> Plan:
    return Plan(id="d/n/action/1", deployment="d", node="web[0].Installed", kind=kind,
                attempt=1, script_type=script_type, body=body, args=args, env=env or {},
                params=params or {"inputs": {"x": 1}}, timeout=timeout)


@pytest.fixture
def transport(tmp_path):
    t = LocalTransport(tmp_path, "web-0")
    yield t
    t.close()


def test_success_collects_outputs_and_tails(transport):
    res = transport.send(plan('echo hello; echo oops >&2\n'
                              'printf \'{"url": "http://x"}\' > "$MURANO_FLOW_OUTPUT"'))
    assert res.ok and res.exit_code == 0
    assert res.outputs == {"url": "http://x"}
    assert res.stdout_tail.strip() == "hello" and res.stderr_tail.strip() == "oops"
    assert os.path.exists(os.path.join(res.log_dir, "stdout.log"))


def test_inputs_arrive_as_data_never_spliced_into_a_command(transport, tmp_path):
    evil = "$(touch pwned); `touch pwned2`; rm -rf /"
    res = transport.send(plan('printf %s "$EVIL" > seen.txt\n'
                              'python3 -c "import json,os; print(json.load(open('
                              'os.environ[\'MURANO_FLOW_PARAMS\']))[\'inputs\'][\'v\'])"',
                              env={"EVIL": evil}, params={"inputs": {"v": evil}},
                              args=(evil,)))
    assert res.ok, res.stderr_tail
    assert (transport.workdir / "seen.txt").read_text() == evil
    assert res.stdout_tail.strip() == evil
    assert not (transport.workdir / "pwned").exists()
    assert not (transport.workdir / "pwned2").exists()


def test_params_file_is_private_to_the_owner(transport):
    res = transport.send(plan('stat -c %a "$MURANO_FLOW_PARAMS"'))
    assert res.stdout_tail.strip() == "600"


def test_runs_in_the_persistent_host_directory(transport):
    transport.send(plan("echo state > marker"))
    res = transport.send(plan('cat marker; echo "$MURANO_FLOW_HOST_DIR"'))
    assert res.stdout_tail.split() == ["state", str(transport.workdir)]


def test_non_zero_exit_is_a_failed_result(transport):
    res = transport.send(plan("echo broken >&2; exit 3"))
    assert res.status == "failed" and res.exit_code == 3 and "broken" in res.stderr_tail


def test_timeout_kills_the_whole_process_group(transport, tmp_path):
    res = transport.send(plan("sleep 300 & echo $! > child.pid; sleep 300", timeout=0.5))
    assert res.status == "timeout" and "timed out after 0.5s" in res.message
    child = int((transport.workdir / "child.pid").read_text())
    wait_until(lambda: not alive(child), "the script's child to be killed too")


def test_invalid_output_json_fails_the_action(transport):
    res = transport.send(plan('echo "not json" > "$MURANO_FLOW_OUTPUT"'))
    assert res.status == "failed" and "invalid JSON" in res.message
    res = transport.send(plan('echo "[1, 2]" > "$MURANO_FLOW_OUTPUT"'))
    assert res.status == "failed" and "JSON object" in res.message


def test_python_and_bash_scripts(transport):
    res = transport.send(plan("import sys; print(sys.argv[1:])", script_type="python",
                              args=("a b", "c")))
    assert res.ok and res.stdout_tail.strip() == "['a b', 'c']"
    res = transport.send(plan("echo ${BASH_VERSION:+bash}", script_type="bash"))
    assert res.stdout_tail.strip() == "bash"


def test_powershell_without_pwsh_is_a_clear_error(transport, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    res = transport.send(plan("Write-Output 1", script_type="powershell"))
    assert res.status == "error" and "pwsh" in res.message


def test_close_stops_running_plans(transport):
    import threading

    results = []
    thread = threading.Thread(target=lambda: results.append(
        transport.send(plan("touch started; sleep 60"))))
    thread.start()
    wait_until((transport.workdir / "started").exists, "the plan to be running")
    transport.close()
    thread.join(timeout=15)
    assert results and results[0].status == "error"


def test_result_marker_is_written_for_resume(transport):
    res = transport.send(plan("true"))
    marker = json.loads(Path(res.log_dir, "result.json").read_text())
    assert marker["plan_id"] == "d/n/action/1" and marker["status"] == "ok"


def _send_then_get_killed(root: str, body: str) -> None:
    """Child process: start a plan and block on it (the test kills us meanwhile)."""
    LocalTransport(Path(root), "web-0").send(plan(body))


def test_a_run_outlives_a_killed_parent_and_is_reattached(tmp_path):
    import multiprocessing
    import signal

    marker = tmp_path / "ran"
    body = f'sleep 1; echo once >> "{marker}"; printf \'{{"v": 1}}\' > "$MURANO_FLOW_OUTPUT"'
    parent = multiprocessing.get_context("spawn").Process(
        target=_send_then_get_killed, args=(str(tmp_path), body))
    parent.start()
    rundir = LocalTransport(tmp_path, "web-0")._rundir(plan(body))
    deadline = time.monotonic() + 20
    while not (rundir / "lock").exists():
        assert time.monotonic() < deadline, "the plan never started"
        time.sleep(0.05)
    os.kill(parent.pid, signal.SIGKILL)  # the engine or agent dies mid-run
    parent.join()
    again = LocalTransport(tmp_path, "web-0")  # ... and comes back
    result = again.reattach(plan(body))
    assert result is not None and result.ok and result.outputs == {"v": 1}
    assert marker.read_text() == "once\n"  # waited for, not re-run


def test_reattach_knows_a_run_that_never_started(transport):
    assert transport.reattach(plan("true")) is None


def test_a_run_whose_supervisor_died_without_a_record_is_not_run_again(transport,
                                                                       monkeypatch):
    from dataclasses import replace

    from murano_flow.wire import runner

    monkeypatch.setattr(runner.supervise, "STARTUP_GRACE", 0.2)
    rundir = transport._prepare(plan("true"))
    (rundir / runner.SPAWNED).touch()  # spawned, started, then the host was reset: no lock,
    (rundir / runner.supervise.STARTED).touch()  # no exit
    lost = transport.reattach(plan("true"))
    assert lost is not None and lost.status == "error" and "not marked idempotent" in lost.message
    assert transport.reattach(replace(plan("true"), idempotent=True)) is None  # safe to re-run


def test_a_run_marked_spawned_whose_script_never_started_is_sent(transport, monkeypatch,
                                                                 tmp_path):
    """The engine was killed between marking the run spawned and starting its supervisor:
    nothing ran, so the resumed engine runs it (once), whatever the state's idempotence."""
    from murano_flow.wire import runner

    monkeypatch.setattr(runner.supervise, "STARTUP_GRACE", 0.2)
    counter = tmp_path / "ran"
    p = plan(f"echo x >> {counter}")
    (transport._prepare(p) / runner.SPAWNED).touch()
    assert transport.reattach(p) is None
    assert transport.send(p).ok and counter.read_text() == "x\n"


def test_a_prepared_run_never_spawned_is_sent_as_new(transport):
    transport._prepare(plan("true"))  # the engine died before spawning the supervisor
    assert transport.reattach(plan("true")) is None
    assert transport.send(plan("true")).ok


def test_closing_while_waiting_on_a_reattached_run_abandons_it(tmp_path):
    import threading

    from murano_flow.errors import InDoubt

    first = LocalTransport(tmp_path, "web-0")
    started = threading.Thread(target=first.send, args=(plan("sleep 2"),), daemon=True)
    started.start()
    rundir = first._rundir(plan("sleep 2"))
    while not (rundir / "lock").exists():
        time.sleep(0.02)
    second = LocalTransport(tmp_path, "web-0")
    threading.Timer(0.3, second.close).start()
    with pytest.raises(InDoubt, match="it goes on running"):
        second.reattach(plan("sleep 2"))
    started.join()
    assert json.loads((rundir / "exit.json").read_text())["status"] == "ok"  # it did go on


def test_supervisors_are_forked_by_one_server_not_an_interpreter_each(tmp_path):
    """Every plan of the process, whatever its host, gets its own supervisor (holding its
    own lock), forked by the one supervisor server: no interpreter start per plan."""
    from murano_flow.wire.launcher import LAUNCHER

    supervisors: set[int] = set()
    parents: set[int] = set()
    for host in ("web-0", "web-1"):
        t = LocalTransport(tmp_path, host)
        for n in range(2):
            # the script's parent is its supervisor; whose child is that?
            p = plan('echo "$PPID $(cut -d" " -f4 /proc/$PPID/stat)"', timeout=30)
            res = t.send(replace(p, id=f"d/n/action/{n}", attempt=n + 1))
            assert res.ok, res.stderr_tail
            supervisor, parent = map(int, res.stdout_tail.split())
            assert supervisor not in supervisors
            supervisors.add(supervisor)
            parents.add(parent)
        t.close()
    server = LAUNCHER._proc
    assert server is not None and parents == {server.pid}


def test_a_run_outlives_its_supervisor_server_and_is_collected(transport, tmp_path):
    """The server dies mid-run (killed): the run's own supervisor goes on, and the waiting
    send collects its end from the run directory: once, with its outputs."""
    import signal
    import threading

    from murano_flow.wire.launcher import LAUNCHER

    gate, marker = tmp_path / "gate", tmp_path / "ran"
    body = (f'echo once >> "{marker}"; while [ ! -e "{gate}" ]; do sleep 0.05; done; '
            'printf \'{"v": 2}\' > "$MURANO_FLOW_OUTPUT"')
    results = []
    thread = threading.Thread(target=lambda: results.append(transport.send(plan(body))))
    thread.start()
    wait_until(marker.exists, "the plan running")
    server = LAUNCHER._proc
    assert server is not None
    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    gate.touch()
    thread.join(60)
    assert results and results[0].ok and results[0].outputs == {"v": 2}
    assert marker.read_text() == "once\n"
    assert transport.send(replace(plan("true"), id="d/n/action/2", attempt=2)).ok  # a new one


def test_a_server_cut_off_mid_line_leaves_its_runs_to_the_run_directory():
    """A server that dies while writing a line: the runs it told nothing of are watched
    on disk (orphaned), never waited for forever."""
    import subprocess

    from murano_flow.wire.launcher import Launched, Launcher

    launched = Launched()
    cut = subprocess.Popen(["printf", '{"id": 1, "pid": 4'], stdout=subprocess.PIPE)
    Launcher()._read(cut, {1: launched})
    assert launched.ended.is_set() and launched.orphaned
