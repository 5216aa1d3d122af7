"""Each agent's own broker login, against the real RabbitMQ: made with the commands
`agent config --broker-user` writes, it lets the agent run its plans, and nothing else -
it can neither read another agent's queue nor publish into it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pika
import pika.exceptions
import pytest
from kits.broker import AgentProcess
from kits.common import AGENT_SECRET

from murano_flow.transports.amqp import Broker, Limits
from murano_flow.wire.protocol import Plan

pytestmark = pytest.mark.integration


@pytest.fixture
def own_logins(tmp_path: Path, broker_url: str):
    """Two agent queues, each with the login `agent config --broker-user` made for it."""
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("rabbitmqctl is needed to create the agents' logins (it comes with "
                    "RabbitMQ, which `make test` starts)")
    tag = uuid.uuid4().hex[:8]
    made = {}
    for name in ("a", "b"):
        queue, config, script = f"mf-rights.{name}.{tag}", tmp_path / f"{name}.json", \
            tmp_path / f"{name}.sh"
        result = subprocess.run(
            [sys.executable, "-m", "murano_flow", "--broker", broker_url, "agent", "config",
             "--queue", queue, "--broker-user", str(script), "-o", str(config)],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "MURANO_FLOW_AGENT_SECRET": AGENT_SECRET})
        assert result.returncode == 0, result.stderr
        assert script.stat().st_mode & 0o077 == 0  # it holds a password
        subprocess.run(["sh", str(script)], check=True, capture_output=True, timeout=120)
        made[name] = (queue, json.loads(config.read_text())["broker"])
    with pika.BlockingConnection(pika.URLParameters(broker_url)) as conn:
        for queue, _ in made.values():
            conn.channel().queue_declare(queue, durable=True)
    yield made
    for queue, _ in made.values():
        subprocess.run(["rabbitmqctl", "delete_user", f"mf-agent.{queue}"], check=False,
                       capture_output=True, timeout=120)
    with pika.BlockingConnection(pika.URLParameters(broker_url)) as conn:
        for queue, _ in made.values():
            conn.channel().queue_delete(queue)


def _refused(url: str, act) -> int:
    """The reply code the broker closes the channel with when ``act`` runs as ``url``."""
    with pika.BlockingConnection(pika.URLParameters(url)) as conn:
        channel = conn.channel()
        channel.confirm_delivery()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            act(channel)
        return int(refused.value.reply_code)


def test_an_agent_login_reads_only_its_queue_and_publishes_only_results(own_logins):
    (queue_a, url_a), (queue_b, _) = own_logins["a"], own_logins["b"]
    assert _refused(url_a, lambda ch: ch.basic_get(queue_b)) == 403  # another's plans
    assert _refused(url_a, lambda ch: ch.basic_publish("", queue_b, b"x")) == 403
    assert _refused(url_a, lambda ch: ch.queue_declare(f"{queue_b}.mine")) == 403
    with pika.BlockingConnection(pika.URLParameters(url_a)) as conn:
        method, _, _ = conn.channel().basic_get(queue_a)  # its own: allowed (and empty)
        assert method is None


def test_an_agent_with_its_own_login_runs_its_plans(tmp_path, own_logins, broker_url):
    queue, url = own_logins["a"]
    agent = AgentProcess(tmp_path / "agents", url, queue).start()
    try:
        agent.wait_log("waiting for plans")
        broker = Broker(broker_url, AGENT_SECRET, connect_timeout=10).acquire()
        plan = Plan(id=f"r/vm.Step/action/{uuid.uuid4().hex[:6]}", deployment="r",
                    node="vm.Step", kind="action", attempt=1, script_type="sh",
                    body="echo from-its-own-login", params={"entity": "vm"}, timeout=60)
        got: list = []
        caller = threading.Thread(target=lambda: got.append(
            broker.call(queue, plan, Limits(ready_timeout=60))))
        caller.start()
        caller.join(timeout=120)
        broker.release()
        assert got and got[0].ok and "from-its-own-login" in got[0].stdout_tail, (
            got, agent.log_text()[-2000:])
    finally:
        agent.stop()


def test_a_handshake_cut_is_not_taken_for_a_refusal_unless_it_repeats(forwarder):
    # Seen in a fault run: a connection cut while the virtual host was being opened made
    # pika report "access denied", which we took for a refusal for good: the plans
    # waiting failed at once, re-attached ones included.
    from murano_flow.errors import BrokerUnreachable
    from murano_flow.wire.broker import GUESSES, connect

    forwarder.break_handshakes = 1
    conn = connect(forwarder.url)  # one cut: asked again, and it was not a refusal
    assert conn.is_open and forwarder.break_handshakes == 0
    conn.close()
    forwarder.break_handshakes = GUESSES  # every attempt cut: believed, as a refusal
    with pytest.raises(BrokerUnreachable) as refused:
        connect(forwarder.url)
    assert refused.value.refused and forwarder.break_handshakes == 0
