"""States waiting for a RabbitMQ message, against the real broker: the filter, the
publisher's broker-validated user_id, malformed bodies, and the queue's lifetime."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from kits.broker import publish, queue_exists
from kits.common import wait_until
from test_engine import Recorder, engine_for

from murano_flow.blueprint import parse_blueprint
from murano_flow.engine.messages import MessageWaits
from murano_flow.engine.waits import queue_name
from murano_flow.store import SqliteStore

pytestmark = pytest.mark.integration

ALARM = """
format: 1
name: alarm
entities:
  vm:
    states:
      Allocated: {{action: echo, outputs: [ip]}}
      Recovered:
        requires: Allocated
        wait:
          message:
            exchange: {exchange}
            routing_key: "alarm.*.vm_down"
            match: {{host: "{{{{ outputs['vm.Allocated'].ip }}}}", severity: [major, critical]}}
            from_user: guest
          timeout: 60s
        outputs: [host]
        action:
          inline: echo
          env: {{HOST: "{{{{ outputs['vm.Recovered'].host }}}}"}}
      Deployed: {{requires: Recovered}}
"""


def _publish(url, exchange, body, *, key="alarm.vm0.vm_down", user_id="guest"):
    publish(url, exchange, key, body, user_id)


def test_only_a_matching_authenticated_message_unblocks_the_state(tmp_path, broker_url,
                                                                  exchange, caplog):
    caplog.set_level(logging.INFO, "murano_flow.engine.messages")
    rec = Recorder()
    rec.behaviour["vm.Allocated/action"] = {"ip": "10.0.0.5"}
    engine, store = engine_for(rec, SqliteStore(tmp_path / "j.db"))
    engine.waits.messages = lambda st, wake: MessageWaits(broker_url, st, wake)
    bp = parse_blueprint(ALARM.format(exchange=exchange), "t.yaml", {}, strict=True)
    dep = engine.create(bp)
    box = {}
    thread = threading.Thread(target=lambda: box.update(final=engine.deploy(bp, dep.id)))
    thread.start()
    queue = queue_name(dep.id, "vm.Recovered")
    end = time.monotonic() + 20
    while {n.name: n.status for n in store.nodes(dep.id)}["vm.Recovered"] != "waiting":
        assert time.monotonic() < end, "never started waiting"
        time.sleep(0.05)
    assert queue_exists(broker_url, queue)  # bound before it was journaled as waiting

    _publish(broker_url, exchange, b"{not json")
    _publish(broker_url, exchange, ["a", "list"])
    _publish(broker_url, exchange, {"host": "10.0.0.5", "severity": "major"}, user_id=None)
    _publish(broker_url, exchange, {"host": "10.0.0.9", "severity": "major"})  # other host
    _publish(broker_url, exchange, {"host": "10.0.0.5", "severity": "info"})  # too mild
    _publish(broker_url, exchange, {"host": "10.0.0.5", "severity": "major"},
             key="alarm.vm0.disk_full")  # another routing key: never reaches the queue
    wait_until(lambda: sum(e.kind == "rejected" for e in store.events(dep.id)) == 3
               and caplog.text.count("ignored a message from guest") == 2,
               "the engine to judge the five messages that reach its queue")
    recovered = {n.name: n for n in store.nodes(dep.id)}["vm.Recovered"]
    assert recovered.status == "waiting" and recovered.outputs == {}  # nothing changed
    rejected = [e.message for e in store.events(dep.id) if e.kind == "rejected"]
    assert len(rejected) == 3, rejected
    assert "not JSON" in rejected[0] and "JSON object, not list" in rejected[1]
    assert "carries no user_id" in rejected[2] and "user_id 'guest'" in rejected[2]
    assert "ignored a message from guest" in caplog.text  # the filtered-out ones: log only

    _publish(broker_url, exchange, {"host": "10.0.0.5", "severity": "critical"})
    thread.join(20)
    assert box["final"].state == "succeeded"
    recovered = {n.name: n for n in store.nodes(dep.id)}["vm.Recovered"]
    assert recovered.outputs == {"host": "10.0.0.5", "severity": "critical"}
    assert [p.env["HOST"] for p in rec.calls if p.node == "vm.Recovered"] == ["10.0.0.5"]
    assert not queue_exists(broker_url, queue)  # deleted once the state stopped waiting


def test_an_unreachable_broker_fails_the_state_with_why(tmp_path, monkeypatch):
    import murano_flow.engine.messages as mw

    monkeypatch.setattr(mw, "SUBSCRIBE_LIMIT", 1.0)
    rec = Recorder()
    rec.behaviour["vm.Allocated/action"] = {"ip": "10.0.0.5"}
    engine, store = engine_for(rec, SqliteStore(tmp_path / "j.db"))
    engine.waits.messages = lambda st, wake: MessageWaits("amqp://guest:guest@127.0.0.1:1/%2F", st,
                                                    wake)
    bp = parse_blueprint(ALARM.format(exchange="x"), "t.yaml", {}, strict=True)
    final = engine.deploy(bp, engine.create(bp).id)
    assert final.state == "failed"
    reason = {n.name: n for n in store.nodes(final.id)}["vm.Recovered"].reason
    assert "cannot wait for a message" in reason and "cannot reach the broker" in reason
