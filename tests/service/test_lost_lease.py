"""An engine whose lease is taken while an action runs (it was frozen, or cut off from
the database, for longer than the lease): it stops at once, writes nothing more, starts
nothing more, and lets go of its transports without stopping what runs on the hosts."""

from __future__ import annotations

import threading

from murano_flow.blueprint import parse_blueprint
from murano_flow.engine.engine import Engine
from murano_flow.engine.lease import Leases
from murano_flow.errors import LeaseLost
from murano_flow.store import MemoryStore
from murano_flow.transports.base import Transport
from murano_flow.wire.protocol import Plan, Result

BLUEPRINT = """
format: 1
name: frozen
entities:
  vm:
    states:
      Configured: {action: configure}
      Deployed: {requires: Configured, action: finish}
"""


class Held(Transport):
    """Runs each plan until the test lets it finish; records how it was let go."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.started = threading.Event()
        self.finish = threading.Event()
        self.ended: list[str] = []

    def send(self, plan: Plan) -> Result:
        self.sent.append(plan.node)
        self.started.set()
        self.finish.wait(30)
        return Result(plan.id, "ok", 0)

    def close(self) -> None:
        self.ended.append("close")

    def detach(self) -> None:
        self.ended.append("detach")


def test_a_run_that_loses_its_lease_stops_writing_and_detaches_its_transports():
    store, transport = MemoryStore(), Held()
    engine = Engine(store, lambda kind, fields: transport, me="e1",
                    leases=Leases(store, "e1", ttl=0.6))
    bp = parse_blueprint(BLUEPRINT, "frozen.yaml", {}, strict=True)
    dep = engine.create(bp, "frozen")
    raised: list[BaseException] = []

    def drive() -> None:
        try:
            engine.deploy(bp, dep.id)
        except LeaseLost as exc:
            raised.append(exc)

    thread = threading.Thread(target=drive)
    thread.start()
    assert transport.started.wait(10)
    # e1's lease ran out and e2 took the deployment (as Store.acquire does).
    assert store.claim(dep.id, "e2", "e1", ttl=60)
    written = len(store.events(dep.id))
    thread.join(5)  # told by the next renewal (every ttl / 3)
    assert not thread.is_alive(), "the run did not stop when its lease was taken"
    assert raised and "another engine took it over" in str(raised[0])
    assert transport.ended == ["detach"]  # the action goes on; e2 re-attaches to it

    transport.finish.set()  # the action ends after the loss: e1 must not journal it
    assert len(store.events(dep.id)) == written
    assert {n.name: n.status for n in store.nodes(dep.id)}["vm.Configured"] == "running"
    assert transport.sent == ["vm.Configured"]
    assert store.deployment(dep.id).owner == "e2"

