"""What an engine that takes over a deployment does with the local actions its previous
engine left running: re-attach when that engine ran on this machine, never re-run them
when it ran on another one."""

from __future__ import annotations

import time

from murano_flow.blueprint import parse_blueprint
from murano_flow.engine.engine import Engine
from murano_flow.store import MemoryStore
from murano_flow.transports import StubTransport

BLUEPRINT = """
format: 1
name: left
entities:
  n:
    host: {transport: local}
    states:
      Deployed: {action: "true"}
"""


def _left_running(previous_owner: str):
    """A deployment whose engine died with its local action running."""
    from murano_flow.lifecycle import fire_deployment, fire_node

    store = MemoryStore()
    calls = []

    def handler(plan):
        calls.append(plan.id)
        return None

    engine = Engine(store, lambda kind, fields: StubTransport(handler))
    bp = parse_blueprint(BLUEPRINT, "left.yaml", {}, strict=True)
    dep = engine.create(bp, "left")
    node = store.nodes("left")[0]
    fire_node(node, "start")
    node.attempt = 1
    fire_deployment(dep, "start")
    store.commit("left", [node], [], state=dep.state)
    store.claim("left", previous_owner, "", ttl=0.01)
    time.sleep(0.05)  # its lease ran out
    return engine, store, bp, calls


def test_a_local_action_left_by_an_engine_on_another_machine_is_not_run_again():
    engine, store, bp, calls = _left_running("other-machine/4242/1")
    final = engine.deploy(bp, "left")
    assert final.state == "failed" and calls == []
    reason = store.nodes("left")[0].reason
    assert "ran on the local host of the engine pid 4242 on other-machine" in reason


def test_a_local_action_left_by_a_dead_engine_on_this_machine_is_reattached():
    import socket

    engine, store, bp, calls = _left_running(f"{socket.gethostname()}/999999999/1")
    assert engine.deploy(bp, "left").state == "succeeded"
    assert calls == ["left/n.Deployed/action/1"]  # asked again by the same plan id
    assert any(e.kind == "reattaching" for e in store.events("left"))
