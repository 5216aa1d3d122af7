"""Fair sharing of an engine's action slots between its deployments."""

from __future__ import annotations

import threading
import time

from murano_flow.blueprint import parse_blueprint
from murano_flow.engine.engine import Engine
from murano_flow.engine.share import FairShare
from murano_flow.store import MemoryStore
from murano_flow.transports import StubTransport


def test_a_short_deployment_gets_an_equal_share_back_from_a_greedy_one():
    share = FairShare(4)
    woken = []
    assert share.take("big", 10, lambda: woken.append("big")) == 4  # nobody else: all
    assert share.take("small", 2, lambda: woken.append("small")) == 0  # none free
    share.give("big", 1)
    assert woken == ["big", "small"]  # both were short
    assert share.take("big", 10, lambda: None) == 0  # big holds 3 > its share of 2
    assert share.take("small", 2, lambda: None) == 1
    share.give("big", 2)
    assert share.take("small", 1, lambda: None) == 1  # up to its share
    assert share.held("small") == 2 and share.held("big") == 1
    share.leave("small")
    assert share.take("big", 10, lambda: None) == 3  # alone again: everything free


def test_nobody_short_means_no_cap_below_the_total():
    share = FairShare(8)
    share.join("a")
    share.join("b")
    assert share.take("a", 6, lambda: None) == 6  # b asked for nothing yet
    assert share.take("b", 1, lambda: None) == 1


def _blueprint(name: str, hosts: int) -> str:
    return f"""
format: 1
name: {name}
entities:
  n:
    count: {hosts}
    host: {{transport: local, name: "{name}-{{{{ index }}}}"}}
    states:
      Deployed: {{action: "true"}}
"""


def test_a_huge_deployment_does_not_starve_a_small_one_on_the_same_engine():
    store, share = MemoryStore(), FairShare(4)
    finished: dict[str, float] = {}
    lock = threading.Lock()

    def handler(plan):
        time.sleep(0.05)
        return None

    def drive(name: str, hosts: int, delay: float) -> None:
        time.sleep(delay)
        engine = Engine(store, lambda kind, fields: StubTransport(handler), workers=16,
                        share=share)
        bp = parse_blueprint(_blueprint(name, hosts), f"{name}.yaml", {}, strict=True)
        dep = engine.create(bp, name)
        assert engine.deploy(bp, dep.id).state == "succeeded"
        with lock:
            finished[name] = time.monotonic()

    threads = [threading.Thread(target=drive, args=("huge", 120, 0.0)),
               threading.Thread(target=drive, args=("small", 4, 0.2))]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # huge alone needs 120 * 0.05 / 4 = 1.5 s; small, with half the slots, ~0.1 s of work.
    assert finished["small"] - start < (finished["huge"] - start) / 2, finished
    assert share.held("huge") == share.held("small") == 0

