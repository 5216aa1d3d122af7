"""One contract, every transport: send, failure, timeout, close, detach, re-attach.

Each class below runs the same behaviour tests (:class:`Contract`) against one transport,
by overriding :meth:`Contract.open` - the local processes, the in-process stub, real
sshd, the WinRM protocol peer, and guest agents over the real broker. Plans are Python
scripts (the WinRM peer runs commands with local programs). What a transport cannot do
by design is declared, with why, in its class; nothing is skipped silently.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any, ClassVar

import pytest
from kits.common import AGENT_SECRET, alive, wait_until

from murano_flow.errors import TransportError
from murano_flow.transports.amqp import AgentTransport, Broker, Limits
from murano_flow.transports.base import Transport
from murano_flow.transports.local import LocalTransport
from murano_flow.transports.ssh import SSHTransport
from murano_flow.transports.stub import StubTransport
from murano_flow.transports.winrm import WinRMTransport
from murano_flow.wire.protocol import Plan, Result

_ids = count(1)

#: Reads its inputs as data, counts its runs in a file, publishes an output.
COUNTED = """\
import json, os, sys, time
p = json.load(open(os.environ['MURANO_FLOW_PARAMS']))
marks = p['inputs']['marks']
with open(os.path.join(marks, 'runs'), 'a') as f:
    f.write('run\\n')
open(os.path.join(marks, 'pid'), 'w').write(str(os.getpid()))
time.sleep(float(p['inputs'].get('sleep', 0)))
print(os.environ['GREETING'])
json.dump({'echo': p['inputs']['value']}, open(os.environ['MURANO_FLOW_OUTPUT'], 'w'))
sys.exit(int(p['inputs'].get('exit', 0)))
"""


class Contract:
    """The behaviour every transport promises (see murano_flow.transports.base)."""

    #: Whether plans are processes on a host (the stub's handler answers in-process).
    RUNS_PROCESSES: ClassVar[bool] = True
    #: Whether a re-attach finds the recorded result of a finished plan (WinRM cannot
    #: re-attach: it answers a non-idempotent plan with a "lost" error, never a re-run).
    KEEPS_RESULTS: ClassVar[bool] = True
    #: Whether a plan left running by a detached transport can be collected by another,
    #: and if not, why not.
    REATTACHES_RUNNING: ClassVar[bool] = True
    why_not_reattach: ClassVar[str] = ""

    @pytest.fixture(autouse=True)
    def _host(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
        # The scripts' marks live where both the engine side and the host can see them
        # (every host here is this machine).
        self.marks = Path(tempfile.mkdtemp(prefix="mf-contract-", dir="/tmp"))
        os.chmod(self.marks, 0o777)
        self.request, self.tmp_path = request, tmp_path
        self.opened: list[Transport] = []
        yield
        for t in self.opened:
            t.close()
        shutil.rmtree(self.marks, ignore_errors=True)

    def open(self) -> Transport:
        """A new transport to the same host (override per transport)."""
        raise NotImplementedError

    def _open(self) -> Transport:
        t = self.open()
        self.opened.append(t)
        return t

    def plan(self, *, value: str = "v", sleep: float = 0, exit_code: int = 0,
             timeout: float = 60, idempotent: bool = False) -> Plan:
        n = next(_ids)
        return Plan(id=f"contract/h.S{n}/action/1", deployment="contract", node=f"h.S{n}",
                    kind="action", attempt=1, script_type="python", body=COUNTED,
                    env={"GREETING": "hello"}, timeout=timeout, idempotent=idempotent,
                    params={"inputs": {"marks": str(self.marks), "value": value,
                                       "sleep": sleep, "exit": exit_code}})

    def runs(self) -> int:
        path = self.marks / "runs"
        return len(path.read_text().split()) if path.exists() else 0

    def started(self) -> bool:
        return (self.marks / "pid").exists()

    # -- send ----------------------------------------------------------------------

    def test_send_gives_inputs_as_data_and_collects_outputs(self) -> None:
        evil = '"; rm -rf / ; $(whoami) `id`'
        res = self._open().send(self.plan(value=evil))
        assert res.ok, (res.message, res.stderr_tail)
        assert res.outputs == {"echo": evil} and res.exit_code == 0
        assert self.runs() == 1
        if self.RUNS_PROCESSES:
            assert "hello" in res.stdout_tail

    def test_a_failing_script_is_a_failed_result_not_an_exception(self) -> None:
        res = self._open().send(self.plan(exit_code=4))
        assert res.status == "failed" and res.exit_code == 4 and not res.ok

    # -- timeout -------------------------------------------------------------------

    def test_a_plan_that_outlives_its_timeout_is_stopped(self) -> None:
        if not self.RUNS_PROCESSES:
            pytest.skip("the stub's handler answers at once: nothing runs to time out")
        res = self._open().send(self.plan(sleep=300, timeout=1.0))
        assert res.status == "timeout" and not res.ok, res.message
        pid = int((self.marks / "pid").read_text())
        wait_until(lambda: not alive(pid), "the timed-out script's process to be gone")
        assert self.runs() == 1

    # -- close ---------------------------------------------------------------------

    def test_close_ends_a_send_that_is_still_running_without_success(self) -> None:
        if not self.RUNS_PROCESSES:
            pytest.skip("the stub's sends return at once: none is running to close")
        t = self._open()
        outcome: dict[str, Any] = {}
        sender = threading.Thread(target=_send_into, args=(t, self.plan(sleep=300), outcome))
        sender.start()
        wait_until(self.started, "the script to start")
        t.close()
        sender.join(timeout=120)
        assert not sender.is_alive(), "send still blocked after close"
        result = outcome.get("result")
        assert result is None or not result.ok, "a closed send reported success"
        assert result is not None or isinstance(outcome.get("error"), TransportError)

    # -- re-attach -------------------------------------------------------------------

    def test_reattach_never_runs_a_finished_plan_again(self) -> None:
        plan = self.plan(value="once")
        assert self._open().send(plan).ok
        again = self._open().reattach(plan)
        assert self.runs() == 1
        if self.KEEPS_RESULTS:
            assert again is not None and again.ok and again.outputs == {"echo": "once"}
        else:
            assert again is not None and not again.ok and again.lost

    def test_reattach_to_a_plan_never_sent_says_so_or_runs_it_once(self) -> None:
        plan = self.plan(value="new")
        again = self._open().reattach(plan)
        if again is None:  # "safe to send": it must not have run
            assert self.runs() == 0
        elif self.KEEPS_RESULTS:  # a transport that sends it now (an agent): exactly once
            assert again.ok and self.runs() == 1
        else:
            assert not again.ok and self.runs() == 0

    # -- detach ----------------------------------------------------------------------

    def test_detach_leaves_a_running_plan_running_for_another_to_collect(self) -> None:
        if not self.REATTACHES_RUNNING:
            pytest.skip(self.why_not_reattach)
        t = self._open()
        plan = self.plan(value="later", sleep=2)
        sender = threading.Thread(target=_send_into, args=(t, plan, {}))
        sender.start()
        wait_until(self.started, "the script to start")
        t.detach()
        collected = self._open().reattach(plan)
        sender.join(timeout=120)
        assert collected is not None and collected.ok and collected.outputs == {"echo": "later"}
        assert self.runs() == 1


def _send_into(t: Transport, plan: Plan, outcome: dict[str, Any]) -> None:
    try:
        outcome["result"] = t.send(plan)
    except TransportError as exc:
        outcome["error"] = exc


class TestLocal(Contract):
    def open(self) -> Transport:
        return LocalTransport(self.tmp_path / "home", "h")


class TestStub(Contract):
    """The stub's handler plays the host: it runs the plan's script in a child process
    and keeps nothing between transports but what the test shares with it."""

    RUNS_PROCESSES = False
    REATTACHES_RUNNING = False
    why_not_reattach = "the stub's sends return at once: nothing runs on to re-attach to"

    @pytest.fixture(autouse=True)
    def _shared(self) -> None:
        self.results: dict[str, Result] = {}

    def open(self) -> Transport:
        stub = StubTransport(_script_host)
        stub.results = self.results  # one "host" for every transport of the test
        return stub


def _script_host(plan: Plan) -> Result:
    with tempfile.TemporaryDirectory() as d:
        params, output = Path(d) / "params.json", Path(d) / "output.json"
        params.write_text(json.dumps(plan.params))
        env = {**os.environ, **plan.env, "MURANO_FLOW_PARAMS": str(params),
               "MURANO_FLOW_OUTPUT": str(output)}
        done = subprocess.run([sys.executable, "-c", plan.body], env=env, check=False,
                              capture_output=True, text=True)
        outputs = json.loads(output.read_text()) if output.exists() else {}
    status = "ok" if done.returncode == 0 else "failed"
    return Result(plan.id, status, done.returncode, stdout_tail=done.stdout,
                  stderr_tail=done.stderr, outputs=outputs)


@pytest.mark.integration
class TestSSH(Contract):
    @pytest.fixture(autouse=True)
    def _sshd(self, sshd: Any) -> None:
        self.sshd = sshd

    def open(self) -> Transport:
        return SSHTransport(self.tmp_path / "home", self.sshd.host())


@pytest.mark.integration
class TestWinRM(Contract):
    KEEPS_RESULTS = False
    REATTACHES_RUNNING = False
    why_not_reattach = ("WinRM cannot re-attach to a command a detached engine left running "
                        "(docs/winrm.md); its re-attach answers 'lost', never a second run")

    @pytest.fixture(autouse=True)
    def _peer(self, winrm_https: Any) -> None:
        self.peer = winrm_https

    def open(self) -> Transport:
        return WinRMTransport(self.tmp_path / "home", self.peer.host())


@pytest.mark.integration
class TestAgentOverBroker(Contract):
    """A guest agent process on a fresh queue, reached through the real RabbitMQ."""

    @pytest.fixture(autouse=True)
    def _agent(self, agents: Callable[..., Any], broker_url: str) -> None:
        self.agent, self.broker_url = agents("contract"), broker_url

    def open(self) -> Transport:
        # The transport holds the connection; closing the last one closes it.
        return AgentTransport(Broker(self.broker_url, AGENT_SECRET), self.agent.queue,
                              Limits(heartbeat_timeout=20))
