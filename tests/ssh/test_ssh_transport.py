"""The ssh transport against a real OpenSSH server on loopback (tests/kits/ssh.py)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from kits.common import alive, wait_until
from kits.ssh import SSHD, start_sshd

from murano_flow.errors import ConnectError, InDoubt
from murano_flow.transports.ssh import SSHTransport
from murano_flow.wire.protocol import Plan

pytestmark = pytest.mark.integration


def plan(body: str, *, node: str = "web[0].Installed", attempt: int = 1, timeout: float = 60,
         script_type: str = "sh", env: dict[str, str] | None = None,
         params: dict | None = None, args: tuple[str, ...] = (),
         idempotent: bool = False, reboot: bool = False) -> Plan:
    return Plan(id=f"d/{node}/action/{attempt}", deployment="d", node=node, kind="action",
                attempt=attempt, script_type=script_type, body=body, args=args,
                env=env or {}, params=params or {"inputs": {}}, timeout=timeout,
                idempotent=idempotent, reboot=reboot)


@pytest.fixture
def open_ssh(sshd, tmp_path):
    made: list[SSHTransport] = []

    def open_(**options) -> SSHTransport:
        t = SSHTransport(tmp_path / "home", sshd.host(**options))
        made.append(t)
        return t

    yield open_
    for t in made:
        t.close()


def remote(sshd) -> Path:
    return sshd.dir / "remote"


def test_runs_a_script_with_inputs_as_data_and_collects_outputs(open_ssh, sshd):
    evil = "$(touch pwned); `touch pwned2`; rm -rf /"
    t = open_ssh()
    res = t.send(plan(
        'echo hello; echo oops >&2; printf %s "$EVIL" > seen.txt\n'
        'python3 -c "import json,os; print(json.load(open(os.environ[\'MURANO_FLOW_PARAMS\']))'
        '[\'inputs\'][\'v\'])"\n'
        'stat -c %a "$MURANO_FLOW_PARAMS" "$(dirname "$MURANO_FLOW_PARAMS")"\n'
        'printf \'{"url": "http://x"}\' > "$MURANO_FLOW_OUTPUT"',
        env={"EVIL": evil}, params={"inputs": {"v": evil}}, args=(evil,)))
    assert res.ok, (res.message, res.stderr_tail)
    assert res.outputs == {"url": "http://x"}
    assert res.stdout_tail.split("\n")[:2] == ["hello", evil]
    assert res.stdout_tail.split()[-2:] == ["600", "700"]  # params file and run dir private
    assert res.stderr_tail.strip() == "oops"
    work = remote(sshd) / "hosts" / "sshd"
    assert (work / "seen.txt").read_text() == evil
    assert not (work / "pwned").exists() and not (work / "pwned2").exists()
    assert (Path(res.log_dir) / "stdout.log").read_text().startswith("hello\n")
    rundir = remote(sshd) / "runs" / "d" / "web-0.Installed" / "action-1"
    left = sorted(p.name for p in rundir.iterdir())
    assert "script.sh" not in left and "params.json" not in left and "env.json" not in left
    t.close()
    assert not rundir.exists()  # the rest goes once the transport closes



def test_detach_keeps_collected_runs_for_the_engine_that_takes_over(open_ssh, sshd):
    """An engine that lost its lease may not have journaled what it collected: detaching
    must leave the run on the host, so the next engine re-attaches instead of re-running."""
    p = plan("echo ran >> detach-runs.txt; echo done", node="web[0].Detached")
    lost = open_ssh()
    assert lost.send(p).ok
    lost.detach()
    assert (remote(sshd) / "runs" / "d" / "web-0.Detached" / "action-1").exists()
    taker = open_ssh()
    again = taker.reattach(p)
    assert again is not None and again.ok and again.stdout_tail == "done\n"
    assert (remote(sshd) / "hosts" / "sshd" / "detach-runs.txt").read_text() == "ran\n"

def test_failures_timeouts_and_other_interpreters(open_ssh, sshd):
    t = open_ssh()
    res = t.send(plan("echo broken >&2; exit 3"))
    assert res.status == "failed" and res.exit_code == 3 and "broken" in res.stderr_tail
    res = t.send(plan("import sys; print(sys.argv[1:])", script_type="python", args=("a b",),
                      attempt=2))
    assert res.ok and res.stdout_tail.strip() == "['a b']"
    res = t.send(plan('echo "[1]" > "$MURANO_FLOW_OUTPUT"', attempt=3))
    assert res.status == "failed" and "JSON object" in res.message
    res = t.send(plan(': > "$MURANO_FLOW_OUTPUT"', attempt=4))  # empty: no outputs, as locally
    assert res.ok and res.outputs == {}


def test_timeout_really_stops_the_remote_process_group(open_ssh, sshd):
    t = open_ssh()
    marker = f"mf-timeout-{os.getpid()}-{time.monotonic_ns()}"
    res = t.send(plan(f"sleep 300 & echo $! > child.pid; exec -a {marker} sleep 301",
                      script_type="bash", timeout=1))
    assert res.status == "timeout" and "timed out after 1s" in res.message
    child = int((remote(sshd) / "hosts" / "sshd" / "child.pid").read_text())
    wait_until(lambda: not alive(child), "the remote script's child to be killed too")
    found = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    assert found.stdout == "", f"still running: {found.stdout}"


def test_large_output_streams_without_stalling(open_ssh):
    t = open_ssh()
    size = 12 * 1024 * 1024  # both streams at once: a reader of one only would deadlock
    res = t.send(plan(f"head -c {size} /dev/zero | tr '\\0' o & "
                      f"head -c {size} /dev/zero | tr '\\0' e >&2; wait; echo END"))
    assert res.ok, res.message
    logs = Path(res.log_dir)
    assert (logs / "stdout.log").stat().st_size == size + 4
    assert (logs / "stderr.log").stat().st_size == size
    assert res.stdout_tail.endswith("ooo\nEND\n") or res.stdout_tail.endswith("END\n")


def test_connection_reused_and_concurrent_sends(open_ssh, sshd):
    t = open_ssh()
    results = [None] * 6

    def go(i: int) -> None:
        results[i] = t.send(plan(f"sleep 0.5; echo {i}", node=f"web[{i}].S"))

    threads = [threading.Thread(target=go, args=(i,)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert [r.stdout_tail.strip() for r in results] == [str(i) for i in range(6)]
    log = (sshd.dir / "sshd.log").read_text()
    assert log.count("Accepted publickey") >= 1
    client = t._client
    t.send(plan("true", node="web[9].S"))
    assert t._client is client  # one connection per host for the whole deployment


def test_a_dropped_connection_is_resumed_without_losing_or_repeating_output(open_ssh, sshd):
    t = open_ssh()
    got = {}
    th = threading.Thread(target=lambda: got.setdefault("r", t.send(
        plan("touch streaming; for i in $(seq 1 30); do echo line $i; sleep 0.1; done; "
             "echo run >> runs.txt"))))
    th.start()
    wait_until((remote(sshd) / "hosts" / "sshd" / "streaming").exists, "the action to start")
    t._client.get_transport().sock.close()  # the network drops under the running action
    th.join(60)
    res = got["r"]
    assert res.ok, res.message
    lines = (Path(res.log_dir) / "stdout.log").read_text().split("\n")[:-1]
    assert lines == [f"line {i}" for i in range(1, 31)]
    assert (remote(sshd) / "hosts" / "sshd" / "runs.txt").read_text() == "run\n"  # ran once


def test_a_new_engine_reattaches_to_a_run_instead_of_running_it_again(open_ssh, sshd):
    first = open_ssh()
    p = plan("echo started >> count.txt; sleep 2; echo '{\"v\": 1}' > \"$MURANO_FLOW_OUTPUT\"",
             node="db.Installed")
    seen = {}

    def run() -> None:
        try:
            first.send(p)
        except InDoubt as exc:
            seen["abandoned"] = exc

    th = threading.Thread(target=run, daemon=True)
    th.start()
    wait_until((remote(sshd) / "hosts" / "sshd" / "count.txt").exists, "the run to start")
    first.close()  # Ctrl-C: the engine stops waiting, the run goes on on the host
    th.join(10)
    assert "it goes on running" in str(seen["abandoned"])
    second = open_ssh()
    res = second.reattach(p)
    assert res is not None and res.ok and res.outputs == {"v": 1}
    assert (remote(sshd) / "hosts" / "sshd" / "count.txt").read_text() == "started\n"
    assert second.reattach(plan("true", node="db.Never")) is None  # never started: send it


def test_a_run_prepared_but_never_started_is_sent_once_on_reattach(open_ssh, sshd):
    """The host's helper died between writing a plan's inputs (marked spawned) and
    starting its supervisor."""
    from murano_flow.wire import supervise

    first = open_ssh()
    p = plan("echo ran >> once.txt", node="db.Half")
    first._connect()
    rundir = first._rundir(p)
    supervise.prepare(Path(rundir), json.loads(first._inputs(p, rundir)))  # the "host" is here
    marker = Path(rundir) / "spawned"
    os.utime(marker, (time.time() - 60, time.time() - 60))  # long ago: past the grace
    second = open_ssh()
    assert second.reattach(p) is None
    assert second.send(p).ok
    assert (remote(sshd) / "hosts" / "sshd" / "once.txt").read_text() == "ran\n"


def test_host_key_policies(open_ssh, sshd, tmp_path):
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    wrong = " ".join((tmp_path / "other_key.pub").read_text().split()[:2])
    changed = tmp_path / "changed_known_hosts"
    changed.write_text(f"[127.0.0.1]:{sshd.port} {wrong}\n")
    with pytest.raises(ConnectError, match="host key mismatch.*records SHA256:") as exc:
        open_ssh(known_hosts=str(changed)).send(plan("true"))
    assert "ssh-keygen -R" in str(exc.value) and exc.value.exit_code == 3

    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(ConnectError, match="unknown host key .*SHA256:"):
        open_ssh(known_hosts=str(empty)).send(plan("true"))
    assert open_ssh(known_hosts=str(empty), trust_on_first_use=True).send(plan("true")).ok
    assert str(sshd.port) in empty.read_text()  # recorded: from now on it is verified
    assert open_ssh(known_hosts=str(empty)).send(plan("true")).ok
    # trust on first use never overrides a mismatch
    with pytest.raises(ConnectError, match="host key mismatch"):
        open_ssh(known_hosts=str(changed), trust_on_first_use=True).send(plan("true"))

    fingerprint = subprocess.run(["ssh-keygen", "-lf", str(sshd.dir / "host_key.pub")],
                                 capture_output=True, text=True, check=True).stdout.split()[1]
    assert open_ssh(known_hosts=str(empty), host_key=fingerprint).send(plan("true")).ok
    with pytest.raises(ConnectError, match="the blueprint pins"):
        open_ssh(host_key="SHA256:" + "A" * 43).send(plan("true"))


def test_connection_errors_say_what_to_fix(sshd, tmp_path):
    def fails(fields: dict, pattern: str) -> None:
        with pytest.raises(ConnectError, match=pattern) as exc:
            SSHTransport(tmp_path, fields).send(plan("true"))
        assert exc.value.exit_code == 3 and exc.value.hint

    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)],
                   check=True)
    fails({**sshd.host(), "key_file": str(stranger)}, "authentication failed .* key_file")
    locked = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "sesame", "-f", str(locked)],
                   check=True)
    fails({**sshd.host(), "key_file": str(locked)}, "is encrypted")
    fails({**sshd.host(), "key_file": str(tmp_path / "nope")}, "does not exist")
    with socket_closed() as port:
        fails({**sshd.host(), "port": port}, "connection refused")
    fails({**sshd.host(), "address": "no-such-host.invalid"}, "cannot resolve host name")
    fails({**sshd.host(), "port": 70000}, "is not a TCP port")
    fails({**sshd.host(), "options": {"colour": "red"}}, "unknown ssh option 'colour'")
    fails({**sshd.host(), "options": {"host_key": "aa:bb"}}, "not a SHA256 fingerprint")


def test_an_encrypted_key_works_with_its_passphrase(sshd, tmp_path):
    locked = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "sesame", "-f", str(locked)],
                   check=True)
    with (sshd.dir / "authorized_keys").open("a") as f:
        f.write((tmp_path / "locked.pub").read_text())
    t = SSHTransport(tmp_path, {**sshd.host(passphrase="sesame"), "key_file": str(locked)})
    try:
        assert t.send(plan("true")).ok
    finally:
        t.close()


def test_password_login(sshd, tmp_path):
    if not sshd.password_user:
        pytest.skip("password login needs a local test user, which only root can create")
    fields = {**sshd.host(workdir=".murano-flow-test"), "user": sshd.password_user,
              "password": sshd.password}
    del fields["key_file"]
    t = SSHTransport(tmp_path, fields)
    try:
        res = t.send(plan("id -un"))
        assert res.ok and res.stdout_tail.strip() == sshd.password_user
    finally:
        t.close()
    with pytest.raises(ConnectError, match="authentication failed .* password"):
        SSHTransport(tmp_path, {**fields, "password": "wrong"}).send(plan("true"))


def test_a_host_without_python_is_a_clear_error(open_ssh):
    res = open_ssh(python="no-such-python3").send(plan("true"))
    assert res.status == "error" and "no-such-python3 not found" in res.message


class socket_closed:
    """A loopback port nobody listens on."""

    def __enter__(self) -> int:
        import socket

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        return self.port

    def __exit__(self, *exc) -> None:
        pass


def test_a_reboot_step_waits_for_the_host_to_go_down_and_come_back(tmp_path):
    server = start_sshd(tmp_path / "rebooting")  # its own: this test takes it down
    pidfile, config = server.dir / "sshd.pid", server.dir / "sshd_config"
    # The "reboot": sshd goes away for 2 s, then a new one listens (sessions survive it,
    # so the transport must judge by new logins, as after a real reboot).
    reboot = ["sh", "-c", f"kill $(cat {pidfile}); sleep 2; {SSHD} -f {config}"]
    t = SSHTransport(tmp_path / "home", server.host(reboot_command=reboot, reboot_timeout=60))
    try:
        before = pidfile.read_text()
        started = time.monotonic()
        res = t.send(plan("echo configured", reboot=True))
        assert res.ok and res.stdout_tail == "configured\n", res.message
        assert time.monotonic() - started >= 2
        assert pidfile.read_text() != before  # a new server: the host went down and came back
        assert t.send(plan("echo after", attempt=2)).stdout_tail == "after\n"
        quiet = SSHTransport(tmp_path / "home", server.host(reboot_command=["true"],
                                                            reboot_timeout=3))
        res = quiet.send(plan("true", reboot=True, attempt=4))
        assert res.status == "error" and "did not go down within 3s" in res.message
        quiet.close()
    finally:
        t.close()
        server.proc.kill()
        with contextlib.suppress(ProcessLookupError, ValueError, FileNotFoundError):
            os.kill(int(pidfile.read_text()), signal.SIGTERM)


def test_many_hosts_on_one_machine_connect_at_once(sshd, tmp_path):
    """Each connection installs the helper: concurrent ones must not clobber each other's
    (each round in a fresh workdir, so that every connection finds it missing)."""
    for round_ in range(2):
        fields = {**sshd.host(workdir=str(tmp_path / f"remote{round_}"))}
        transports = [SSHTransport(tmp_path / "home", {**fields, "name": f"h{i}"})
                      for i in range(8)]
        results = _send_all(transports)
        assert len(results) == 8 and all(getattr(r, "ok", False) for r in results.values()), \
            results


def _send_all(transports: list[SSHTransport]) -> dict[int, object]:
    """Send one plan through each transport at once (then close them); results or errors."""
    results: dict[int, object] = {}

    def go(i: int) -> None:
        try:
            results[i] = transports[i].send(plan(f"echo {i}", node=f"n{i}.S"))
        except Exception as exc:  # noqa: BLE001 - reported by the caller
            results[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(transports))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    for t in transports:
        t.close()
    return results


def test_each_action_is_one_command_starting_one_interpreter_on_one_nodelay_connection(
        open_ssh, monkeypatch):
    """Per action: one command on the host's one connection, starting the helper once
    (it starts the supervisor and follows it), over a socket without Nagle's delay."""
    import socket

    import paramiko

    from murano_flow.transports import ssh

    t = open_ssh()
    assert t.send(plan("true")).ok  # first contact: login, workdir, helper uploaded
    transport = t._client.get_transport() if t._client else None
    assert transport is not None
    assert transport.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    commands: list[str] = []
    real = paramiko.Channel.exec_command
    monkeypatch.setattr(paramiko.Channel, "exec_command",
                        lambda chan, command: commands.append(command) or real(chan, command))
    for attempt in (2, 3, 4):
        res = t.send(plan("echo $MURANO_FLOW_ATTEMPT", attempt=attempt))
        assert res.ok and res.stdout_tail.strip() == str(attempt)
    assert len(commands) == 3
    assert all(c.count(ssh._HELPER_NAME) == 1 for c in commands), commands
    # the host's own Python, found once per connection, not a PATH lookup (here a shim)
    platform = next(p for p in ("/usr/bin/python3", "/usr/local/bin/python3")
                    if Path(p).exists())
    assert all(f"&& {platform} -I -S " in c for c in commands), commands
    assert (t._client.get_transport() if t._client else None) is transport  # no reconnect


def test_the_start_command_arriving_twice_runs_the_action_once(open_ssh, tmp_path,
                                                              monkeypatch):
    """The host took the start command, but the connection dropped before we heard it did,
    so the command goes again - here at the worst moment: the first run has ended, and is
    not collected yet. The second supervisor sees the run started and leaves it; its
    follower reports the first run's end."""
    import paramiko

    from murano_flow.transports import ssh

    counter = tmp_path / "ran"
    t = open_ssh()
    sent: list[str] = []
    stdins: list[bytes] = []
    real_exec, real_sendall = paramiko.Channel.exec_command, paramiko.Channel.sendall
    monkeypatch.setattr(paramiko.Channel, "exec_command",
                        lambda chan, command: sent.append(command) or real_exec(chan, command))
    monkeypatch.setattr(paramiko.Channel, "sendall",
                        lambda chan, data: stdins.append(data) or real_sendall(chan, data))
    real_collect = ssh.SSHTransport._collect
    again: list[int] = []

    def collect(self, plan, rundir, local, code, started):
        if not again:  # the start command once more, before the first run is collected
            stdin, out, _ = self._connect().exec_command(sent[-1])
            stdin.write(stdins[-1])
            stdin.channel.shutdown_write()
            again.append(out.channel.recv_exit_status())
        return real_collect(self, plan, rundir, local, code, started)

    monkeypatch.setattr(ssh.SSHTransport, "_collect", collect)
    res = t.send(plan(f'echo x >> "{counter}"; echo "$MURANO_FLOW_ATTEMPT"'))
    assert "--run" in sent[0] and again == [0]
    assert res.ok and res.stdout_tail.strip() == "1"
    assert counter.read_text() == "x\n"


def test_the_hosts_helper_writes_nothing_from_unusable_inputs(tmp_path):
    """``--run`` takes a run's inputs on stdin: cut off or malformed, nothing is written and
    the run is reported never started; a file name that would leave the run directory is
    refused."""
    import sys

    from murano_flow.wire import supervise

    rundir = tmp_path / "runs" / "d" / "n"
    for stdin in (b"", b'{"token": "t", "files": {"script.sh": "tr', b'["not", "a", "map"]',
                  b'{"token": "t", "files": {"../escape": "x"}}',
                  b'{"token": "t", "files": {}, "forget": ["/etc"]}',
                  b'{"token": "t", "files": {}, "forget": ["%s"]}' % str(rundir).encode()):
        done = subprocess.run([sys.executable, "-I", "-S", supervise.__file__, "--run",
                               str(rundir), "10", "/bin/sh", str(rundir / "script.sh")],
                              input=stdin, capture_output=True, check=False)
        assert done.returncode == supervise.BAD_INPUTS, done.stderr
        assert b"nothing was started" in done.stderr
        assert not rundir.exists() and not (tmp_path / "runs" / "d" / "escape").exists()


def test_the_hosts_helper_prepares_a_private_run_directory_afresh_for_a_new_send(tmp_path):
    from murano_flow.wire import supervise

    rundir = tmp_path / "runs" / "d" / "n"
    supervise.prepare(rundir, {"token": "one", "files": {"params.json": "{}"}})
    for d in (tmp_path / "runs", tmp_path / "runs" / "d", rundir):
        assert d.stat().st_mode & 0o777 == 0o700
    assert (rundir / "params.json").stat().st_mode & 0o777 == 0o600
    for left in ("started", "exit.json", "stdout.log"):  # what the first run left
        (rundir / left).write_text("x")
    supervise.prepare(rundir, {"token": "one", "files": {"params.json": "{}"}})
    assert (rundir / "exit.json").exists()  # the same command twice: the run is left alone
    supervise.prepare(rundir, {"token": "two", "files": {"params.json": '{"a": 1}'}})
    assert not any((rundir / left).exists() for left in ("started", "exit.json", "stdout.log"))
    assert (rundir / "params.json").read_text() == '{"a": 1}'
    assert (rundir / "spawned").read_text() == "two"


def test_the_hosts_helper_tolerates_a_directory_made_meanwhile(tmp_path, monkeypatch):
    """Two host names on one machine share its run tree: a parent found missing may exist
    by the time the helper makes it."""
    from murano_flow.wire import supervise

    parent = tmp_path / "runs" / "d"
    parent.mkdir(parents=True)  # made by the other host's run after this one looked
    real_exists = Path.exists
    looked: list[Path] = []
    monkeypatch.setattr(Path, "exists", lambda p: False if p == parent and not looked.append(p)
                        else real_exists(p))
    supervise.prepare(parent / "n", {"token": "t", "files": {"params.json": "{}"}})
    assert looked and (parent / "n" / "params.json").read_text() == "{}"


def test_a_script_whose_interpreter_cannot_start_leaves_no_input_on_the_host(open_ssh, sshd,
                                                                           monkeypatch):
    from murano_flow.transports import ssh

    monkeypatch.setitem(ssh._INTERPRETERS, "sh", ["/no/such/shell"])
    p = plan("true", node="web[0].Unstartable", params={"inputs": {"password": "s3cret"}},
             env={"TOKEN": "t0ken"})
    res = open_ssh().send(p)
    assert res.status == "error" and "cannot start /no/such/shell" in res.message
    rundir = remote(sshd) / "runs" / "d" / "web-0.Unstartable" / "action-1"
    left = {f.name for f in rundir.iterdir()}
    assert not left & {"script.sh", "params.json", "env.json", "secrets.json"}, left


def test_collected_runs_of_other_states_go_with_the_next_command(open_ssh, sshd):
    """The host's helper removes the run directories collected before (other states',
    whose results the engine journaled before sending this one); a state's own stay until
    then: its check's run is followed by its action without a commit between."""
    t = open_ssh()
    runs = remote(sshd) / "runs" / "d"
    assert t.send(plan("true", node="web[0].A")).ok
    assert t.send(plan("true", node="web[0].A", attempt=2)).ok  # the same state again
    assert (runs / "web-0.A" / "action-1").exists()
    assert t.send(plan("true", node="web[0].B")).ok
    assert not (runs / "web-0.A" / "action-1").exists()
    assert not (runs / "web-0.A" / "action-2").exists()
    assert (runs / "web-0.B" / "action-1").exists()
    t.close()
    assert not (runs / "web-0.B" / "action-1").exists()  # the last ones go at close


def test_removing_a_collected_run_never_follows_a_link_out_of_it(open_ssh, sshd, tmp_path):
    """A script may leave a link where its run directory was: only the link goes, by the
    next command's helper and at close."""
    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "file").write_text("kept")
    t = open_ssh()
    runs = remote(sshd) / "runs" / "d"
    for node in ("web[0].A", "web[0].B"):  # A's goes with B's command, B's at close
        assert t.send(plan("true", node=node)).ok
        rundir = runs / node.replace("[", "-").replace("]", "") / "action-1"
        for f in rundir.iterdir():
            f.unlink()
        rundir.rmdir()
        rundir.symlink_to(keep)
    t.close()
    assert (keep / "file").read_text() == "kept"
    assert not any((runs / n / "action-1").is_symlink() for n in ("web-0.A", "web-0.B"))
