"""`murano-flow notify` against the real broker: every journaled event reaches a topic
exchange once, in order, in the documented format; the cursor survives a restart."""

from __future__ import annotations

import json
import uuid

import jsonschema
import pika
import pytest
from click.testing import CliRunner
from kits.common import ROOT

from murano_flow.cli import cli
from murano_flow.store import SqliteStore

pytestmark = pytest.mark.integration

SCHEMA = json.loads((ROOT / "docs" / "notification.schema.json").read_text())
BP = """
format: 1
name: n
entities:
  a:
    host: {transport: local, name: "a-{{ deployment }}"}  # one each: hosts are not shared
    states:
      Deployed: {action: echo hi}
"""


def _cli(*args):
    return CliRunner().invoke(cli, list(args))


def test_notify_publishes_each_event_once_in_order(tmp_path, home, broker_url,
                                                   write_blueprint):
    exchange = f"mf-test-events-{uuid.uuid4().hex[:8]}"
    conn = pika.BlockingConnection(pika.URLParameters(broker_url))
    channel = conn.channel()
    channel.exchange_declare(exchange, exchange_type="topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, exchange, routing_key="n1.*")  # one deployment, every kind
    try:
        path = write_blueprint(BP)
        assert _cli("deploy", str(path), "--id", "n1").exit_code == 0
        assert _cli("deploy", str(path), "--id", "n2", "--new").exit_code == 0
        first = _cli("--broker", broker_url, "notify", "--exchange", exchange, "--once",
                     "--from-start")
        assert first.exit_code == 0, first.output
        assert _cli("rollback", "n1").exit_code == 0  # more events, after the first relay
        again = _cli("--broker", broker_url, "notify", "--exchange", exchange, "--once")
        assert again.exit_code == 0, again.output
        bodies = []
        while True:
            method, props, raw = channel.basic_get(queue, auto_ack=True)
            if method is None:
                break
            doc = json.loads(raw)
            jsonschema.validate(doc, SCHEMA)
            assert props.message_id == str(doc["seq"]) and props.type == doc["kind"]
            assert method.routing_key == f"n1.{doc['kind']}"
            bodies.append(doc)
    finally:
        channel.exchange_delete(exchange)
        conn.close()
    journal = [e.seq for e in SqliteStore(home / "journal.db").events("n1")]
    assert [b["seq"] for b in bodies] == journal  # all of n1's, once each, in order
    assert {b["deployment"] for b in bodies} == {"n1"}
    assert bodies[-1]["kind"] == "deployment" and bodies[-1]["status"] == "rolled_back"


def test_an_unreachable_broker_is_exit_3_and_the_relay_keeps_its_place(home, broker_url,
                                                                       write_blueprint):
    assert _cli("deploy", str(write_blueprint(BP)), "--id", "n1").exit_code == 0
    down = _cli("--broker", "amqp://guest:guest@127.0.0.1:1/%2F", "notify", "--once",
                "--exchange", "mf-test-never", "--from-start")
    assert down.exit_code == 3, down.output
    assert "cannot publish events to the broker" in down.output
    assert SqliteStore(home / "journal.db").cursor("notify:mf-test-never") == 0
