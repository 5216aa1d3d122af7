"""Guest agents over the real broker: deployments through agents, agent kills, connection
cuts, forged and replayed messages, the three distinct failures, reboots."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pika
import pytest
from kits.broker import reply_queue
from kits.common import AGENT_SECRET as SECRET

from murano_flow.errors import ConnectError, DecodeError, InDoubt, SignatureError
from murano_flow.transports.amqp import Broker, Limits
from murano_flow.wire.protocol import Notice, Plan, Result
from murano_flow.wire.signing import AGENT, agent_key, decrypt, encrypt, new_key, sign, verify

pytestmark = pytest.mark.integration

COUNTED = """\
format: 1
name: counted
parameters:
  queues: {type: list}
  counter: {type: string}
  pause: {type: string, default: "0.1"}
entities:
  node:
    count: 4
    host:
      transport: amqp
      queue: "{{ params.queues[index % (params.queues | length)] }}"
      options: {heartbeat_timeout: 20s, ready_timeout: 60s}
    states:
      Installed:
        action: &count
          inline: |
            sleep "$PAUSE"
            echo "$MURANO_FLOW_NODE" >> "$COUNTER"
          env: {COUNTER: "{{ params.counter }}", PAUSE: "{{ params.pause }}"}
      Configured:
        requires: Installed
        action: *count
      Deployed:
        requires: [Configured, "node[*].Installed"]
        action: *count
"""
EXPECTED = {f"node[{i}].{s}" for i in range(4) for s in ("Installed", "Configured", "Deployed")}


def deploy(tmp_path: Path, broker: str, queues: list[str], pause: float = 0.1,
           timeout: float = 180) -> subprocess.CompletedProcess[str]:
    bp = tmp_path / "counted.yaml"
    bp.write_text(COUNTED)
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"queues": queues, "counter": str(tmp_path / "count.txt"),
                                  "pause": str(pause)}))
    env = {**os.environ, "MURANO_FLOW_AGENT_SECRET": SECRET,
           "MURANO_FLOW_HOME": str(tmp_path / "home"),
           "MURANO_FLOW_STORE": f"sqlite:///{tmp_path}/journal.db"}
    return subprocess.run([sys.executable, "-m", "murano_flow", "--broker", broker, "deploy",
                           str(bp), "--params-file", str(params), "-f", "json"],
                          env=env, capture_output=True, text=True, timeout=timeout)


def counts(tmp_path: Path) -> Counter[str]:
    return Counter((tmp_path / "count.txt").read_text().split())


def assert_exactly_once(tmp_path: Path, done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stdout + done.stderr
    seen = counts(tmp_path)
    assert set(seen) == EXPECTED and set(seen.values()) == {1}, seen


def test_a_blueprint_deploys_through_two_agent_processes(tmp_path, agents, broker_url):
    a, b = agents("a"), agents("b")
    done = deploy(tmp_path, broker_url, [a.queue, b.queue])
    assert_exactly_once(tmp_path, done)
    assert json.loads(done.stdout)["deployment"]["state"] == "succeeded"
    assert "running plan" in a.log_text() and "running plan" in b.log_text()


def test_an_agent_killed_mid_plan_is_restarted_and_nothing_runs_twice(tmp_path, agents,
                                                                       broker_url):
    a = agents("a")

    def kill_and_restart() -> None:
        for n in (2, 5):
            a.wait_log("running plan", count=n, timeout=60)
            time.sleep(0.3)  # inside the action's sleep
            a.kill()
            time.sleep(1.0)
            a.start()

    chaos = threading.Thread(target=kill_and_restart)
    chaos.start()
    done = deploy(tmp_path, broker_url, [a.queue], pause=1.0)
    chaos.join()
    assert a.starts == 3
    assert_exactly_once(tmp_path, done)
    assert "re-attaching" in a.log_text()


def test_broker_connections_cut_mid_deployment_lose_nothing(tmp_path, agents, forwarder):
    a, b = agents("a", broker=forwarder.url), agents("b", broker=forwarder.url)
    stop = threading.Event()

    def cut_repeatedly() -> None:
        time.sleep(1.0)
        while not stop.wait(0.8):
            forwarder.cut()

    chaos = threading.Thread(target=cut_repeatedly)
    chaos.start()
    try:
        done = deploy(tmp_path, forwarder.url, [a.queue, b.queue], pause=0.3)
    finally:
        stop.set()
        chaos.join()
    assert forwarder.cuts >= 3
    assert_exactly_once(tmp_path, done)
    assert "reconnecting" in a.log_text() + b.log_text()


# -- authentication --------------------------------------------------------------


def _plan(tmp_path: Path, body: str, **kw: object) -> Plan:
    fields = {"id": f"t/{uuid.uuid4().hex}/action/1", "deployment": "t", "node": "vm.Step",
              "kind": "action", "attempt": 1, "script_type": "sh", "body": body,
              "params": {"entity": "vm"}, "timeout": 30.0, **kw}
    return Plan(**fields)  # type: ignore[arg-type]


def test_forged_stale_wrong_queue_and_replayed_plans_are_rejected(tmp_path, agents, broker_url):
    agent = agents("sec")
    agent.wait_log("waiting for plans")
    counter = tmp_path / "ran.txt"
    replies = f"mf-test.replies.{uuid.uuid4().hex[:8]}"
    key = agent_key(SECRET, agent.queue)
    body = encrypt(key, _plan(tmp_path, f'echo ran >> "{counter}"', reply_to=replies).encode())
    conn = pika.BlockingConnection(pika.URLParameters(broker_url))
    channel = conn.channel()
    reply_queue(channel, replies)

    def publish(headers: dict | None) -> None:
        channel.basic_publish("", agent.queue, body,
                              pika.BasicProperties(headers=headers, reply_to=replies))

    publish(None)
    publish(sign(new_key(), agent.queue, body))
    publish(sign(key, "someone-elses-queue", body))
    publish(sign(key, agent.queue, body, now=time.time() - 3 * 24 * 3600))
    good = sign(key, agent.queue, body)
    publish(good)
    agent.wait_log("plan t/")
    agent.wait_log(": ok (exit 0)")
    publish(good)  # a captured message, replayed
    agent.wait_log("replayed")
    log = agent.log_text()
    for reason in ("unsigned", "mis-signed", "wrong-queue", "stale", "replayed"):
        assert any("REJECTED" in line and reason in line for line in log.splitlines()), reason
    assert counter.read_text() == "ran\n"

    notices = []
    for _ in range(50):
        method, props, data = channel.basic_get(replies, auto_ack=True)
        if method is None:
            if any(n.kind == "result" for n in notices):
                break
            time.sleep(0.1)
            continue
        verify(key, replies, data, props.headers)  # the agent signs what it sends
        notices.append(Notice.decode(decrypt(key, data)))  # and encrypts it
    assert [n.kind for n in notices if n.kind != "heartbeat"] == ["accepted", "result"]
    assert notices[-1].result is not None and notices[-1].result.ok
    conn.close()


def test_the_engine_ignores_forged_and_misdirected_results(broker_url):
    queue = f"mf-test.fake-agent.{uuid.uuid4().hex[:8]}"
    broker = Broker(broker_url, SECRET, connect_timeout=10).acquire()
    plan = Plan(id="d/vm.Step/action/1", deployment="d", node="vm.Step", kind="action",
                attempt=1, script_type="sh", body="true")
    answer: list[object] = []
    caller = threading.Thread(target=lambda: answer.append(
        broker.call(queue, plan, Limits(ready_timeout=30))))
    caller.start()
    conn = pika.BlockingConnection(pika.URLParameters(broker_url))
    channel = conn.channel()
    channel.queue_declare(queue, durable=True)
    for _ in range(100):  # play the agent: take the plan from its queue
        method, props, data = channel.basic_get(queue, auto_ack=True)
        if method:
            break
        time.sleep(0.1)
    with pytest.raises(DecodeError):
        Plan.decode(data)  # a plan off the queue is not readable as such...
    assert Plan.decode(decrypt(agent_key(SECRET, queue), data)).id == plan.id  # ...but by it
    with pytest.raises(SignatureError, match="undecryptable"):
        decrypt(agent_key(SECRET, "another-agent"), data)  # and by no other agent
    reply_to = props.reply_to

    def send(notice: Notice, key: str, agent: str = queue) -> None:
        body = encrypt(key, notice.encode())
        channel.basic_publish("", reply_to, body, pika.BasicProperties(
            headers={**sign(key, reply_to, body), AGENT: agent}))

    forged = Result(plan.id, "ok", 0, outputs={"forged": True})
    send(Notice("result", queue, plan.id, forged), new_key())            # wrong key
    send(Notice("result", "other", plan.id, forged), agent_key(SECRET, "other"),
         "other")  # a genuine agent, but not the one the plan went to
    send(Notice("result", queue, plan.id, forged), agent_key(SECRET, "other"),
         "other")  # the same, claiming inside to be the right one
    # the genuine one comes after the forged ones on the same queue: an answer that is
    # not it means a forged one was taken
    genuine = Result(plan.id, "failed", 7, message="the real one")
    send(Notice("result", queue, plan.id, genuine), agent_key(SECRET, queue))
    send(Notice("result", queue, plan.id, genuine), agent_key(SECRET, queue))  # duplicate
    caller.join(timeout=10)
    assert answer == [genuine]
    channel.queue_delete(queue)
    conn.close()
    broker.release()


# -- the three silences (each in doubt) and the failures ------------------------------


def test_an_agent_that_never_comes_is_told_apart(broker_url):
    broker = Broker(broker_url, SECRET, connect_timeout=10).acquire()
    queue = f"mf-test.nobody.{uuid.uuid4().hex[:8]}"
    plan = Plan(id="d/vm.Step/action/1", deployment="d", node="vm.Step", kind="action",
                attempt=1, script_type="sh", body="true")
    with pytest.raises(InDoubt, match="no agent ever connected to queue"):
        broker.call(queue, plan, Limits(ready_timeout=1.0))
    broker.release()
    with pika.BlockingConnection(pika.URLParameters(broker_url)) as conn:
        ch = conn.channel()
        assert ch.queue_declare(queue, passive=True).method.message_count == 0  # expired
        ch.queue_delete(queue)


def test_an_agent_that_dies_mid_plan_is_reported_as_silent(tmp_path, agents, broker_url):
    agent = agents("dies")
    broker = Broker(broker_url, SECRET, connect_timeout=10).acquire()
    plan = _plan(tmp_path, "sleep 5", timeout=6.0)
    killer = threading.Thread(target=lambda: (agent.wait_log("running plan"), agent.kill()))
    killer.start()
    with pytest.raises(InDoubt, match="stopped heartbeating while running vm.Step"):
        broker.call(agent.queue, plan, Limits(heartbeat_timeout=1.5))
    killer.join()
    broker.release()


def test_an_action_failure_is_a_result_not_a_connection_error(tmp_path, agents, broker_url):
    agent = agents("fails")
    with Broker(broker_url, SECRET).acquire() as broker:
        result = broker.call(agent.queue, _plan(tmp_path, "echo boom >&2; exit 4"), Limits())
    assert result.status == "failed" and result.exit_code == 4
    assert "boom" in result.stderr_tail


def test_the_broker_being_unreachable_fails_waiting_plans_clearly(tmp_path):
    broker = Broker("amqp://guest:guest@127.0.0.1:1/%2F", SECRET, connect_timeout=0.5).acquire()
    with pytest.raises(ConnectError, match="cannot reach the broker at amqp://guest:\\*+@"):
        broker.call("q", _plan(tmp_path, "true"), Limits())
    broker.release()


# -- reboots -------------------------------------------------------------------------


def test_a_reboot_step_reports_after_the_agent_comes_back(tmp_path, agents, broker_url):
    reboot = [sys.executable, "-c", "import os, signal; os.kill(os.getppid(), signal.SIGKILL)"]
    agent = agents("reboots", reboot_command=reboot)

    def restart_when_dead() -> None:  # what the service manager does after the host boots
        assert agent.proc is not None
        agent.proc.wait()
        time.sleep(0.5)
        agent.start()

    watcher = threading.Thread(target=restart_when_dead)
    watcher.start()
    with Broker(broker_url, SECRET).acquire() as broker:
        result = broker.call(agent.queue, _plan(tmp_path, "echo configured", reboot=True),
                             Limits(reboot_timeout=30))
    watcher.join()
    assert result.ok and result.stdout_tail.strip() == "configured"
    assert agent.starts == 2
    log = agent.log_text()
    assert log.index("asks for a reboot") < log.index("back from the reboot")


def test_a_reboot_needed_step_reboots_the_agent_host_only_when_its_action_asks(
        tmp_path, agents, broker_url):
    reboot = [sys.executable, "-c", "import os, signal; os.kill(os.getppid(), signal.SIGKILL)"]
    agent = agents("reboots-needed", reboot_command=reboot)
    answered = threading.Event()

    def restart_when_dead() -> None:  # until the answer came: a test that fails ends too
        assert agent.proc is not None
        while agent.proc.poll() is None:
            if answered.wait(0.05):
                return
        time.sleep(0.5)
        agent.start()

    asks = "printf '{\"reboot_required\": true}' > \"$MURANO_FLOW_OUTPUT\""
    with Broker(broker_url, SECRET).acquire() as broker:
        quiet = broker.call(agent.queue, _plan(tmp_path, "echo in place", reboot_if_asked=True),
                            Limits(reboot_timeout=30))
        assert quiet.ok and agent.starts == 1 and "asks for a reboot" not in agent.log_text()
        watcher = threading.Thread(target=restart_when_dead)
        watcher.start()
        result = broker.call(agent.queue, _plan(tmp_path, asks, reboot_if_asked=True),
                             Limits(reboot_timeout=30))
        answered.set()
    watcher.join()
    assert result.ok and result.outputs == {"reboot_required": True}
    assert agent.starts == 2
    log = agent.log_text()
    assert log.index("asks for a reboot") < log.index("back from the reboot")


# -- configuration -------------------------------------------------------------------


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read agent config"),
    ("{broken", "is not valid JSON"),
    ('{"broker": "amqp://x", "queue": "q", "key": "zz", "spool": "/tmp/x"}', "must be hex"),
    ('{"broker": "amqp://x", "queue": "q", "key": "ab", "spool": "/tmp/x", "color": 1}',
     "unknown field(s) color"),
    ('{"broker": "amqp://x", "queue": "q", "key": "ab", "spool": "/tmp/x", '
     '"reboot_command": "shutdown -r"}', "must be a list of strings"),
])
def test_a_bad_agent_config_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "agent.json"
    if content is not None:
        path.write_text(content)
    done = subprocess.run([sys.executable, "-m", "murano_flow_agent", "--config", str(path)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
