"""The winrm transport through the real pywinrm client against the WS-Management test
peer (tests/kits/winrmpeer.py: no Windows here; the peer runs commands with local programs,
so these plans are Python scripts; the PowerShell bootstrap is checked statically)."""

from __future__ import annotations

import base64
import dataclasses
import sys
import threading
import time
from pathlib import Path

import pytest
from kits.common import alive, wait_until
from kits.winrm import start_peer
from winrm.exceptions import WinRMError

from murano_flow.errors import ConnectError
from murano_flow.transports import winrs
from murano_flow.transports.winrm import WinRMTransport
from murano_flow.wire.protocol import Plan

pytestmark = pytest.mark.integration


def plan(body: str, *, node: str = "dc.Installed", attempt: int = 1, timeout: float = 60,
         env: dict[str, str] | None = None, params: dict | None = None,
         args: tuple[str, ...] = (), reboot: bool = False, idempotent: bool = False,
         script_type: str = "python") -> Plan:
    return Plan(id=f"d/{node}/action/{attempt}", deployment="d", node=node, kind="action",
                attempt=attempt, script_type=script_type, body=body, args=args,
                env=env or {}, params=params or {"inputs": {}}, timeout=timeout,
                reboot=reboot, idempotent=idempotent)


def send(peer, p: Plan, tmp_path: Path, **options):
    t = WinRMTransport(tmp_path / "home", peer.host(**options))
    try:
        return t.send(p)
    finally:
        t.close()


def test_a_script_gets_its_inputs_as_data_and_publishes_outputs(winrm_https, tmp_path):
    evil = '"; Remove-Item -Recurse C:\\ ; $(whoami) & del *'
    res = send(winrm_https, plan(
        "import json, os, sys\n"
        "p = json.load(open(os.environ['MURANO_FLOW_PARAMS']))\n"
        "print(p['inputs']['v']); print(os.environ['EVIL']); print(sys.argv[1])\n"
        "print('warn', file=sys.stderr)\n"
        "out = open(os.environ['MURANO_FLOW_OUTPUT'], 'w')\n"
        "json.dump({'dns': '10.0.0.10', 'multi': 'a\\nb'}, out, indent=2)\n",
        env={"EVIL": evil}, params={"inputs": {"v": evil}}, args=(evil,)), tmp_path)
    assert res.ok, (res.message, res.stderr_tail)
    assert res.outputs == {"dns": "10.0.0.10", "multi": "a\nb"}
    assert res.stdout_tail == f"{evil}\n{evil}\n{evil}\n"  # the outputs line is cut off
    assert res.stderr_tail == "warn\n"
    assert (Path(res.log_dir) / "stdout.log").read_text() == res.stdout_tail
    assert winrm_https.wire()[-1] == "plain True"  # NTLM-authenticated, inside TLS


def test_a_script_far_beyond_the_command_line_and_envelope_limits(winrm_https, tmp_path):
    filler = "x" * 2_000_000  # 2 MB of script: 4+ envelopes of the peer's 500 KB limit
    res = send(winrm_https, plan(f"BIG = '{filler}'\nprint(len(BIG))\n"
                                 "import sys; sys.stdout.write('o' * 6_000_000)\n"), tmp_path)
    assert res.ok, res.message
    stdout = (Path(res.log_dir) / "stdout.log").read_bytes()
    assert stdout.startswith(b"2000000\n") and len(stdout) == 8 + 6_000_000


def test_exit_codes_and_error_records_decide_not_stderr(winrm_https, tmp_path):
    progress = ('#< CLIXML\\r\\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/'
                'powershell/2004/04"><Obj S="progress" RefId="0"><TN RefId="0"><T>System.'
                'Management.Automation.PSCustomObject</T></TN><MS><I64 N="SourceId">1</I64>'
                '<PR N="Record"><AV>Preparing modules for first use.</AV></PR></MS></Obj>'
                '<S S="Warning">disk almost full_x000D__x000A_</S></Objs>')
    res = send(winrm_https, plan(f"import sys; sys.stderr.write('{progress}')"), tmp_path)
    assert res.ok, res.message  # progress noise on stderr is not a failure
    assert res.stderr_tail == "WARNING: disk almost full\n"
    error = progress.replace('<S S="Warning">disk almost full', '<S S="Error">access denied')
    res = send(winrm_https, plan(f"import sys; sys.stderr.write('{error}')", attempt=2),
               tmp_path)
    assert res.status == "failed" and "error records: access denied" in res.message
    res = send(winrm_https, plan("import sys; print('no'); sys.exit(5)", attempt=3), tmp_path)
    assert res.status == "failed" and res.exit_code == 5


def test_timeout_terminates_the_command_on_the_host(winrm_https, tmp_path):
    res = send(winrm_https, plan(
        "import os, time; open('child.pid', 'w').write(str(os.getpid())); time.sleep(300)",
        timeout=2), tmp_path)
    assert res.status == "timeout" and "terminated" in res.message
    pid = int((winrm_https.workdir / "child.pid").read_text())
    wait_until(lambda: not alive(pid), "the command to be terminated on the host")


def test_closing_the_transport_stops_a_running_command(winrm_https, tmp_path):
    t = WinRMTransport(tmp_path, winrm_https.host())
    got = {}
    th = threading.Thread(target=lambda: got.setdefault("r", t.send(plan(
        "import os, time; open('stopped.pid', 'w').write(str(os.getpid())); time.sleep(300)"))))
    th.start()
    wait_until((winrm_https.workdir / "stopped.pid").exists, "the command to start")
    t.close()  # Ctrl-C
    th.join(15)
    assert got["r"].status == "error" and got["r"].message.startswith("stopped")
    pid = int((winrm_https.workdir / "stopped.pid").read_text())
    wait_until(lambda: not alive(pid), "the command to be stopped on the host")


def test_a_reboot_step_waits_for_the_host_to_go_down_and_come_back(winrm_https, tmp_path):
    boots = winrm_https.boots
    # The peer "reboots" on SIGUSR1; a second first: the command must not be cut short.
    reboot = ["/bin/sh", "-c", "sleep 1; kill -USR1 $PPID"]
    started = time.monotonic()
    res = send(winrm_https, plan("print('configured')", reboot=True), tmp_path,
               reboot_command=reboot, reboot_timeout=60)
    assert res.ok, res.message
    assert winrm_https.boots == boots + 1
    assert time.monotonic() - started >= 2  # the peer stays down 2 s
    res = send(winrm_https, plan("print(1)", reboot=True, attempt=2), tmp_path,
               reboot_command=["/bin/true"], reboot_timeout=3)
    assert res.status == "error" and "did not go down within 3s" in res.message
    res = send(winrm_https, plan("print(1)", reboot=True, attempt=3), tmp_path,
               reboot_command=["/bin/sh", "-c", "echo Access is denied. >&2; exit 5"],
               reboot_timeout=3)
    assert res.status == "error" and res.message.endswith(
        "did not go down within 3s; the reboot command exited 5: Access is denied.")


def test_the_default_reboot_command_waits_out_a_host_that_goes_down_late(winrm_https,
                                                                         tmp_path):
    # shutdown.exe /r /t 5 returns at once and the host answers 5 s more: the engine must
    # wait for it to go down, not take "it answers" for "it is back"
    boots = winrm_https.boots
    res = send(winrm_https, plan("print('features installed')", reboot=True), tmp_path,
               reboot_timeout=60)
    assert res.ok, res.message
    assert winrm_https.boots == boots + 1
    after = send(winrm_https, plan("print('after')", attempt=2), tmp_path)
    assert after.ok and after.stdout_tail == "after\n"


def test_a_reboot_needed_step_reboots_only_when_its_action_asks(winrm_https, tmp_path):
    reboot = ["/bin/sh", "-c", "sleep 1; kill -USR1 $PPID"]

    def step(body: str, attempt: int):
        p = dataclasses.replace(plan(body, attempt=attempt), reboot_if_asked=True)
        return send(winrm_https, p, tmp_path, reboot_command=reboot, reboot_timeout=60)

    boots = winrm_https.boots
    res = step("print('already in place')", 1)
    assert res.ok and winrm_https.boots == boots  # it did not ask: no reboot
    # (exit code 3010 asks too; the peer's processes are Linux ones, whose exit codes are 8
    # bits, so that path is covered where the transport decides: test_protocol's reboot_due)
    asks = ("import json, os\n"
            "json.dump({'reboot_required': True}, open(os.environ['MURANO_FLOW_OUTPUT'], 'w'))")
    res = step(asks, 2)
    assert res.ok and res.outputs == {"reboot_required": True}
    assert winrm_https.boots == boots + 1
    res = step("import sys; sys.exit(1)", 3)
    assert res.status == "failed" and winrm_https.boots == boots + 1  # a failure: none


def test_large_output_comes_in_receives_of_the_size_the_client_asks_for(winrm_https, tmp_path):
    before = len(winrm_https.receives())
    res = send(winrm_https, plan("import sys\nsys.stdout.write('o' * 3_000_000)\n"
                                 "sys.stderr.write('e' * 1_000_000)"), tmp_path)
    assert res.ok, res.message
    logs = Path(res.log_dir)
    assert (logs / "stdout.log").stat().st_size == 3_000_000
    assert (logs / "stderr.log").stat().st_size == 1_000_000
    sizes = winrm_https.receives()[before:]
    assert len(sizes) > 20  # 4 MB in responses of at most 150 KB
    assert all(size <= asked for size, asked in sizes), sizes


def test_reattach_never_runs_a_non_idempotent_plan_twice(winrm_https, tmp_path):
    t = WinRMTransport(tmp_path, winrm_https.host())
    lost = t.reattach(plan("print(1)"))
    assert lost is not None and lost.status == "error" and "not marked idempotent" in lost.message
    assert t.reattach(plan("print(1)", idempotent=True)) is None


def test_connection_and_security_errors_say_which_setting_to_change(winrm_https, winrm_http,
                                                                    tmp_path):
    def fails(fields: dict, pattern: str) -> str:
        with pytest.raises(ConnectError, match=pattern) as exc:
            WinRMTransport(tmp_path, fields).send(plan("print(1)"))
        assert exc.value.exit_code == 3
        return str(exc.value)

    good = winrm_https.host()
    said = fails({**good, "password": "wrong"}, "rejected the credentials of 'Administrator'")
    assert "winrm get winrm/config/service/auth" in said
    said = fails(winrm_https.host(ca_file=None), "TLS with https://127.0.0.1:.* failed")
    assert "options.ca_file" in said
    said = fails(winrm_http.host(auth="basic"), "over http with basic auth would send")
    assert "scheme: https" in said
    # Windows ships with Basic off (the https peer is a host where it was turned on)
    said = fails(winrm_http.host(auth="basic", allow_unencrypted=True),
                 "refused Basic authentication .*: Windows turns Basic off by default")
    assert "auth: ntlm" in said and 'auth @{Basic="true"}' in said
    said = fails(winrm_http.host(message_encryption="never", allow_unencrypted=True),
                 "answered HTTP 400")
    assert "message encryption" in said and "AllowUnencrypted" in said
    fails({**good, "port": winrm_http.port}, "TLS with|cannot connect")
    fails({**good, "port": 1}, "cannot connect to")
    fails({**good, "options": {"auth": "digest"}}, "winrm auth 'digest' is not one of")
    fails({**good, "options": {"color": 1}}, "unknown winrm option 'color'")
    fails({**good, "password": ""}, "ntlm auth needs user and password")
    said = fails({**winrm_https.host(auth="kerberos"), "address": "localhost"}, "(?i)kerberos")
    assert "pip install 'pywinrm[kerberos]'" in said or "Kerberos" in said
    fails({**good, "options": {"reboot_command": "shutdown"}}, "wrong type")
    # Kerberos tickets are for names; delegation (the double hop) is Kerberos's own
    said = fails({**good, "options": {"auth": "kerberos"}}, "Kerberos needs the host's name")
    assert "not the IP address 127.0.0.1" in said
    fails({**good, "options": {"kerberos_delegation": True}},
          "kerberos_delegation needs auth: kerberos, not ntlm")


def test_kerberos_delegation_reaches_the_protocol(tmp_path):
    host = {"address": "sql-0.corp.example", "user": "CORP\\svc", "password": "pw",
            "options": {"auth": "kerberos", "kerberos_delegation": True}}
    transport = WinRMTransport(tmp_path, host)
    assert transport.host.kerberos_delegation
    try:
        proto = transport._protocol(10)
    except ConnectError as exc:  # pywinrm without its kerberos extra: says how to add it
        assert "kerberos" in str(exc).lower()
    else:
        assert proto.transport.kerberos_delegation is True


def test_ntlm_over_http_seals_every_message(winrm_http, tmp_path):
    before = len(winrm_http.wire())
    res = send(winrm_http, plan("print('sealed')"), tmp_path)  # the defaults: ntlm, auto
    assert res.ok and res.stdout_tail == "sealed\n", res.message
    seen = winrm_http.wire()[before:]
    assert seen and set(seen) == {"sealed True"}


def test_basic_over_https(winrm_https, tmp_path):
    res = send(winrm_https, plan("print('basic')"), tmp_path, auth="ssl")
    assert res.ok and res.stdout_tail == "basic\n", res.message
    assert winrm_https.wire()[-1] == "plain False"  # TLS protects it; no NTLM involved


def test_the_powershell_bootstrap_fits_the_command_line():
    program, args = winrs.powershell_command("powershell.exe")
    line = " ".join([program, *args])
    assert len(line) < 8191  # cmd.exe's limit; the script itself goes through stdin
    source = base64.b64decode(args[-1]).decode("utf-16-le")
    assert "[Console]::In.ReadToEnd()" in source and "$ErrorActionPreference = 'Stop'" in source


@pytest.fixture
def one_shell_host(tmp_path_factory):
    """A host whose users may hold one shell at a time (winrs MaxShellsPerUser=1)."""
    peer = start_peer(tmp_path_factory.mktemp("winrm-quota"), None, extra=("--max-shells", "1"))
    yield peer
    peer.proc.terminate()
    peer.proc.wait(10)


def test_a_host_out_of_shells_is_a_clear_error_and_each_plan_gives_its_shell_back(
        one_shell_host, tmp_path):
    for i in range(3):  # one shell per plan, deleted after it: a quota of one is enough
        assert send(one_shell_host, plan(f"print({i})"), tmp_path).ok
    t = WinRMTransport(tmp_path / "home", one_shell_host.host())
    held = t._protocol(2)
    shell = held.open_shell()  # another session of the same user holds the only shell
    try:
        with pytest.raises(ConnectError, match="maximum number of 1 concurrent shells") as exc:
            t.send(plan("print('never')"))
        assert "MaxShellsPerUser" in str(exc.value) and exc.value.exit_code == 3
    finally:
        held.close_shell(shell)
    assert t.send(plan("print('now')")).ok


def test_a_plan_of_megabytes_goes_in_sends_the_host_accepts(winrm_https, tmp_path):
    body = "x = '" + "a" * 3_000_000 + "'\nprint(len(x))\n"
    res = send(winrm_https, plan(body), tmp_path)
    assert res.ok and res.stdout_tail.strip() == "3000000", res.message
    # what the host refuses: one message over MaxEnvelopeSizekb (500 KB)
    proto = WinRMTransport(tmp_path / "home", winrm_https.host())._protocol(2)
    shell = proto.open_shell()
    try:
        command = proto.run_command(shell, sys.executable, ["-c", "input()"])
        with pytest.raises(WinRMError, match="larger than MaxEnvelopeSizekb"):
            proto.send_command_input(shell, command, b"a" * 600_000, end=True)
    finally:
        proto.close_shell(shell)


@pytest.fixture
def quick_host(tmp_path_factory):
    """A host that goes down 0.1 s after shutdown.exe /r /t 5 and is back 0.1 s later:
    faster than the engine polls (every second)."""
    peer = start_peer(tmp_path_factory.mktemp("winrm-quick"), None,
                      extra=("--downtime", "0.1", "--reboot-scale", "0.02"))
    yield peer
    peer.proc.terminate()
    peer.proc.wait(10)


def test_a_reboot_quicker_than_the_engine_polls_is_seen_by_the_shell_it_ended(
        quick_host, tmp_path):
    boots = quick_host.boots
    res = send(quick_host, plan("print('renamed')", reboot=True), tmp_path, reboot_timeout=20)
    assert res.ok, res.message  # before: "did not go down within 20s" - it never looked down
    assert quick_host.boots == boots + 1
    after = send(quick_host, plan("print('after')", attempt=2), tmp_path)
    assert after.ok and after.stdout_tail == "after\n"
