"""Unknown is not failed, on the agent path, against the real broker: when the engine
cannot know whether an agent ran a plan, the state is in doubt, keeps its plan id, and
`resume` asks the agent for that same plan - the action never runs a second time.

Each test counts real runs: the action appends a ``start`` and an ``end`` line (node,
attempt) to a counter file.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from pathlib import Path

import chain
import pika
import pytest
from harness import Crasher, side_effects
from kits.broker import reply_queue
from kits.common import AGENT_SECRET, wait_until

from murano_flow.errors import ConnectError
from murano_flow.store import SqliteStore
from murano_flow.transports.amqp import AgentTransport, Broker, Limits
from murano_flow.wire.protocol import NEVER_STARTED, Notice, Plan
from murano_flow.wire.signing import agent_key, decrypt, encrypt, sign, verify

pytestmark = [pytest.mark.faults, pytest.mark.integration]

BLUEPRINT = """\
format: 1
name: {name}
parameters:
  counter: {{type: string}}
  queue: {{type: string}}
  pause: {{type: string, default: "0.05"}}
entities:
  job:
    host:
      transport: amqp
      queue: "{{{{ params.queue }}}}"
      shared: true  # deployments after one another on one agent
      options: {{heartbeat_timeout: {heartbeat}}}
    states:
      Done:
        action:
          script: act.sh
          env: {{COUNTER: "{{{{ params.counter }}}}", PAUSE: "{{{{ params.pause }}}}"}}
      Deployed: {{requires: Done}}
"""


def write(directory: Path, name: str = "doubt", heartbeat: str = "3s") -> Path:
    (directory / "act.sh").write_text(chain.ACTION)
    path = directory / f"{name}.yaml"
    path.write_text(BLUEPRINT.format(name=name, heartbeat=heartbeat))
    return path


def engine(tmp_path: Path, broker: str, deployment: str = "doubt") -> Crasher:
    return Crasher(tmp_path / "home", deployment, seed=0,
                   env={"MURANO_FLOW_BROKER": broker, "MURANO_FLOW_AGENT_SECRET": AGENT_SECRET})


def counted(counter: Path, what: str) -> int:
    return counter.read_text().count(f"{what} ") if counter.exists() else 0


def run_log(crasher: Crasher) -> str:
    return (crasher.home / f"run-{crasher.runs}.log").read_text()


def statuses(crasher: Crasher, deployment: str = "doubt") -> dict[str, str]:
    with SqliteStore(crasher.journal) as store:
        return {n.name: n.status for n in store.nodes(deployment)}


def assert_ran_once(counter: Path) -> None:
    effects = side_effects(counter)
    assert effects == {"job.Done": {"start": 1, "end": 1}}, counter.read_text()
    assert all(line.endswith(" 1") for line in counter.read_text().splitlines())  # attempt 1


def started(tmp_path: Path, agent, broker_url: str, pause: str):
    """A deployment of the one-action blueprint through ``agent``, once the action runs:
    (counter, crasher, params, the deploy process)."""
    counter = tmp_path / "counter.txt"
    crasher = engine(tmp_path, broker_url)
    params = ["-p", f"counter={counter}", "-p", f"queue={agent.queue}", "-p", f"pause={pause}"]
    deploy = crasher.command("deploy", str(write(tmp_path)), "--id", "doubt", *params)
    wait_until(lambda: counted(counter, "start") == 1, "the agent started the action")
    return counter, crasher, params, deploy


def test_an_agent_that_goes_silent_leaves_the_state_in_doubt_and_resume_asks_again(
        tmp_path, agents, broker_url):
    agent = agents("stopped")
    counter, crasher, params, deploy = started(tmp_path, agent, broker_url, "5")
    assert agent.proc is not None
    agent.proc.send_signal(signal.SIGSTOP)  # alive, but silent: no heartbeat, no result
    try:
        assert deploy.wait(timeout=300) == 3, run_log(crasher)
        assert statuses(crasher)["job.Done"] == "in_doubt"
        told = run_log(crasher)
        assert "stopped heartbeating" in told and "--rerun job.Done" in told
    finally:
        agent.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: counted(counter, "end") == 1, "the agent finished the plan it had")
    assert crasher.command("resume", "doubt", *params).wait(timeout=300) == 0, run_log(crasher)
    assert_ran_once(counter)
    with SqliteStore(crasher.journal) as store:
        kinds = [e.kind for e in store.events("doubt") if e.node == "job.Done"]
    assert kinds.count("running") == 1 and "in_doubt" in kinds and "reattaching" in kinds


def test_an_agent_killed_and_back_after_the_heartbeat_timeout_runs_nothing_twice(
        tmp_path, agents, broker_url):
    agent = agents("killed")
    counter, crasher, params, deploy = started(tmp_path, agent, broker_url, "4")
    agent.kill()  # its supervisor goes on running the script
    assert deploy.wait(timeout=300) == 3, run_log(crasher)
    assert statuses(crasher)["job.Done"] == "in_doubt"
    agent.start()  # back after the engine gave up: it re-attaches to its run
    assert crasher.command("resume", "doubt", *params).wait(timeout=300) == 0, run_log(crasher)
    assert_ran_once(counter)


def test_a_busy_agent_keeps_a_queued_plan_alive_with_heartbeats(tmp_path, agents, broker_url):
    agent = agents("busy")
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    crasher = engine(tmp_path, broker_url, "one")
    blueprint = str(write(tmp_path, heartbeat="2s"))
    one = crasher.command("deploy", blueprint, "--id", "one", "-p", f"counter={first}",
                          "-p", f"queue={agent.queue}", "-p", "pause=6")
    wait_until(lambda: counted(first, "start") == 1, "the first plan started")
    two = crasher.command("deploy", blueprint, "--id", "two", "--new", "-p",
                          f"counter={second}", "-p", f"queue={agent.queue}")
    assert one.wait(timeout=300) == 0
    assert two.wait(timeout=300) == 0, run_log(crasher)
    for counter in (first, second):
        assert_ran_once(counter)
    lines = first.read_text().splitlines() + second.read_text().splitlines()
    assert counted(second, "start") == 1 and len(lines) == 4


def test_a_broker_outage_past_the_connect_timeout_leaves_a_sent_plan_waiting(
        tmp_path, agents, forwarder):
    agent = agents("outage", broker=forwarder.url)
    agent.wait_log("waiting for plans")
    counter = tmp_path / "counter.txt"
    connect_timeout = 0.5
    broker = Broker(forwarder.url, AGENT_SECRET, connect_timeout=connect_timeout)
    transport = AgentTransport(broker, agent.queue, Limits(heartbeat_timeout=60))
    plan = Plan(id=f"t/job.Done/action/{uuid.uuid4().hex[:6]}", deployment="t",
                node="job.Done", kind="action", attempt=1, script_type="sh", body=chain.ACTION,
                env={"COUNTER": str(counter), "PAUSE": "2"}, params={"entity": "job"},
                timeout=120)
    answers: list[object] = []

    def send() -> None:
        try:
            answers.append(transport.send(plan))
        except Exception as exc:  # noqa: BLE001 - the test looks at what came back
            answers.append(exc)

    caller = threading.Thread(target=send)
    caller.start()
    wait_until(lambda: counted(counter, "start") == 1, "the agent started the plan")
    began = time.monotonic()
    with forwarder.outage():  # engine and agent both lose the broker
        wait_until(lambda: counted(counter, "end") == 1
                   and time.monotonic() - began > 6 * connect_timeout,
                   "the plan ended while the broker was out of reach, past the timeout")
    caller.join(timeout=300)
    transport.close()
    assert len(answers) == 1 and getattr(answers[0], "ok", False), answers
    assert side_effects(counter) == {"job.Done": {"start": 1, "end": 1}}


def test_a_plan_that_never_reached_the_broker_fails_as_unreachable(tmp_path, forwarder):
    with forwarder.outage():
        broker = Broker(forwarder.url, AGENT_SECRET, connect_timeout=0.5)
        transport = AgentTransport(broker, "mf-test.nobody", Limits())
        plan = Plan(id="t/job.Done/action/1", deployment="t", node="job.Done",
                    kind="action", attempt=1, script_type="sh", body="true")
        with pytest.raises(ConnectError, match="cannot reach the broker"):
            transport.send(plan)
        transport.close()


def _replies(broker_url: str) -> tuple[pika.BlockingConnection, str]:
    conn = pika.BlockingConnection(pika.URLParameters(broker_url))
    name = f"mf-test.replies.{uuid.uuid4().hex[:8]}"
    reply_queue(conn.channel(), name)
    return conn, name


def _notices(conn: pika.BlockingConnection, queue: str, key: str, until: str) -> list[Notice]:
    channel, got = conn.channel(), []

    def arrived() -> bool:
        method, props, data = channel.basic_get(queue, auto_ack=True)
        if method is not None:
            verify(key, queue, data, props.headers)
            got.append(Notice.decode(decrypt(key, data)))
        return any(n.kind == until for n in got)

    wait_until(arrived, f"a {until} notice on {queue}")
    return got


def test_an_agent_refuses_a_plan_past_its_signed_expiry_and_a_changed_reply_queue(
        tmp_path, agents, broker_url):
    agent = agents("expiry")
    agent.wait_log("waiting for plans")
    counter = tmp_path / "counter.txt"
    key = agent_key(AGENT_SECRET, agent.queue)
    conn, replies = _replies(broker_url)
    channel = conn.channel()

    def publish(plan: Plan, reply_to: str) -> None:
        body = encrypt(key, plan.encode())  # re-published without any AMQP expiration
        channel.basic_publish("", agent.queue, body, pika.BasicProperties(
            headers=sign(key, agent.queue, body), reply_to=reply_to))

    base = {"deployment": "t", "node": "job.Done", "kind": "action", "attempt": 1,
            "script_type": "sh", "body": f'echo ran >> "{counter}"', "reply_to": replies,
            "params": {"entity": "job"}}
    late = Plan(id="t/job.Done/action/late", expires=time.time() - 60, **base)  # type: ignore[arg-type]
    publish(late, replies)
    notices = _notices(conn, replies, key, until="result")
    assert notices[-1].result is not None
    assert notices[-1].result.message.startswith(NEVER_STARTED)
    elsewhere = Plan(id="t/job.Done/action/moved", **base)  # type: ignore[arg-type]
    publish(elsewhere, "mf-test.someone-listening")  # the signed reply queue is ours
    agent.wait_log("differs from the signed")
    fresh = Plan(id="t/job.Done/action/late", expires=time.time() + 600, **base)  # type: ignore[arg-type]
    publish(fresh, replies)  # the same id again, in time: refusing it spooled nothing
    result = _notices(conn, replies, key, until="result")[-1].result
    assert result is not None and result.ok
    assert counter.read_text() == "ran\n"
    assert "REFUSED plan t/job.Done/action/late" in agent.log_text()
    conn.close()


def test_an_agent_killed_before_the_script_started_runs_it_once_on_restart(
        tmp_path, agents, broker_url):
    from murano_flow_agent.spool import Spool

    agent = agents("unstarted", start=False)
    counter = tmp_path / "counter.txt"
    key = agent_key(AGENT_SECRET, agent.queue)
    conn, replies = _replies(broker_url)
    plan = Plan(id="t/job.Done/action/1", deployment="t", node="job.Done", kind="action",
                attempt=1, script_type="sh", body=f'echo ran >> "{counter}"',
                params={"entity": "job"}, reply_to=replies)
    body = encrypt(key, plan.encode())
    spool = Spool(Path(agent.root) / agent.queue)
    # as an agent SIGKILLed right after marking the plan started, before the spawn
    spool.accept(plan.id, body, sign(key, agent.queue, body), replies)
    spool.start(plan.id)
    agent.start()
    result = _notices(conn, replies, key, until="result")[-1].result
    assert result is not None and result.ok, result
    assert counter.read_text() == "ran\n"
    conn.close()


def test_resume_rerun_runs_a_state_in_doubt_afresh_only_when_asked(tmp_path, agents,
                                                                    broker_url):
    agent = agents("rerun")
    counter, crasher, params, deploy = started(tmp_path, agent, broker_url, "4")
    agent.kill()
    assert deploy.wait(timeout=300) == 3
    bad = crasher.command("resume", "doubt", "--rerun", "job.Deployed", *params)
    assert bad.wait(timeout=120) == 2
    assert "--rerun job.Deployed: it is pending, not in doubt" in run_log(crasher)
    agent.start()
    rerun = crasher.command("resume", "doubt", "--rerun", "job.Done", *params)
    assert rerun.wait(timeout=300) == 0, run_log(crasher)
    attempts = [line.split(" ")[2] for line in counter.read_text().splitlines()
                if line.startswith("start ")]
    assert attempts == ["1", "2"]  # the operator's choice: a new attempt, a new plan id


def test_a_plan_an_earlier_engine_sent_is_in_doubt_when_the_broker_cannot_be_reached(
        tmp_path, forwarder):
    # Seen in a fault run: a resumed engine re-attaching to plans in flight met a broker
    # that refused the connection; the plans failed ("cannot reach the broker") though the
    # dead engine had sent them, and an agent may have run them. Unknown is not failed.
    import queue as queues

    from murano_flow.engine.executor import execute

    with forwarder.outage():
        broker = Broker(forwarder.url, AGENT_SECRET, connect_timeout=0.5)
        transport = AgentTransport(broker, "mf-test.nobody", Limits())
        plan = Plan(id="t/job.Done/action/1", deployment="t", node="job.Done",
                    kind="action", attempt=1, script_type="sh", body="true")
        done: queues.SimpleQueue[object] = queues.SimpleQueue()
        execute(done, 0, transport, None, plan, reattach=True)
        outcome = done.get(timeout=300)
        transport.close()
    assert outcome.failure_kind == "in_doubt", outcome.error
    assert "may have run" in outcome.error
    fresh: queues.SimpleQueue[object] = queues.SimpleQueue()  # a plan never sent: it fails
    with forwarder.outage():
        broker = Broker(forwarder.url, AGENT_SECRET, connect_timeout=0.5)
        transport = AgentTransport(broker, "mf-test.nobody", Limits())
        execute(fresh, 0, transport, None, plan, reattach=False)
        assert fresh.get(timeout=300).failure_kind == "unreachable"
        transport.close()
