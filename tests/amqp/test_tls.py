"""amqps:// end to end, against a real RabbitMQ node that listens only with TLS (its
certificate signed by a CA the test made): the engine and a guest agent run a plan, a state
waits for a broker message, `notify` publishes the journal - all over TLS, the broker's
certificate verified; a URL that does not trust that CA is refused with why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pika
import pytest
from kits.broker import AgentProcess
from kits.common import AGENT_SECRET, wait_until

from murano_flow.store import SqliteStore
from murano_flow.wire.broker import connection_parameters

pytestmark = pytest.mark.integration

BLUEPRINT = """\
format: 1
name: tls
parameters:
  queue: {{type: string}}
entities:
  vm:
    host: {{transport: amqp, queue: "{{{{ params.queue }}}}"}}
    states:
      Ran: {{action: {{inline: "echo over-tls"}}}}
      Heard:
        requires: Ran
        wait: {{message: {{exchange: {exchange}, routing_key: go, match: {{ok: true}}}},
                timeout: 10m}}
      Deployed: {{requires: Heard}}
"""


def _mf(home: Path, broker: str, *args: str, wait: bool = True):
    env = {**os.environ, "MURANO_FLOW_HOME": str(home), "MURANO_FLOW_BROKER": broker,
           "MURANO_FLOW_STORE": f"sqlite:///{home}/journal.db",
           "MURANO_FLOW_AGENT_SECRET": AGENT_SECRET}
    argv = [sys.executable, "-m", "murano_flow", *args]
    if wait:
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def test_engine_agent_waits_and_notify_over_tls(tmp_path, tls_broker):
    tag = uuid.uuid4().hex[:8]
    exchange, events = f"mf-tls-{tag}", f"mf-tls-events-{tag}"
    agent = AgentProcess(tmp_path / "agents", tls_broker.url, f"mf-tls.{tag}").start()
    home = tmp_path / "home"
    (tmp_path / "tls.yaml").write_text(BLUEPRINT.format(exchange=exchange))
    conn = pika.BlockingConnection(connection_parameters(tls_broker.url))
    try:
        channel = conn.channel()
        channel.exchange_declare(exchange, "topic", durable=True)
        agent.wait_log("waiting for plans")
        deploy = _mf(home, tls_broker.url, "deploy", str(tmp_path / "tls.yaml"), "--id", "t",
                     "-p", f"queue={agent.queue}", wait=False)

        def waiting() -> bool:
            if not (home / "journal.db").exists():
                return False
            with SqliteStore(home / "journal.db") as store:
                try:
                    return {n.name: n.status for n in store.nodes("t")}["vm.Heard"] == "waiting"
                except Exception:  # noqa: BLE001 - not created yet
                    return False

        wait_until(waiting, "the state to wait for its message")
        channel.basic_publish(exchange, "go", json.dumps({"ok": True}).encode(),
                              pika.BasicProperties(user_id="guest"))
        output, _ = deploy.communicate(timeout=300)
        assert deploy.returncode == 0, output + agent.log_text()[-2000:]
        channel.exchange_declare(events, "topic", durable=True)
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, events, routing_key="#")
        sent = _mf(home, tls_broker.url, "notify", "--exchange", events, "--once",
                   "--from-start")
        assert sent.returncode == 0, sent.stderr
        method, _, body = channel.basic_get(queue, auto_ack=True)
        assert method is not None and json.loads(body)["deployment"] == "t"
        with SqliteStore(home / "journal.db") as store:
            ran = next(n for n in store.nodes("t") if n.name == "vm.Ran")
        assert "over-tls" in ran.stdout_tail
    finally:
        agent.stop()
        channel = conn.channel()
        for name in (exchange, events):
            channel.exchange_delete(name)
        channel.queue_delete(f"mf-tls.{tag}")
        conn.close()


def test_a_broker_whose_certificate_is_not_trusted_is_refused_with_why(tmp_path, tls_broker):
    (tmp_path / "tls.yaml").write_text(BLUEPRINT.format(exchange="mf-unused"))
    result = _mf(tmp_path / "home", tls_broker.untrusted, "deploy", str(tmp_path / "tls.yaml"),
                 "--id", "u", "-p", "queue=mf-tls.nobody")
    assert result.returncode == 3, result.stdout + result.stderr
    told = result.stdout + result.stderr
    assert "certificate" in told and "cafile=" in told
    assert "Traceback" not in told
