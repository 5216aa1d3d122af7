"""``agent list`` and ``GET /v1/agents``: the agents of the deployments' amqp hosts,
connected or not as the broker sees their queues, and what each holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from kits.api import start, stop
from kits.broker import SECRET
from kits.common import wait_until

from murano_flow.store import SqliteStore

pytestmark = pytest.mark.integration

ONE = """\
format: 1
name: one
parameters:
  queue: {type: string}
  gate: {type: string, default: "/"}
entities:
  app:
    host: {transport: amqp, queue: "{{ params.queue }}"}
    states:
      Deployed:
        action: {inline: 'while [ ! -e "$G" ]; do sleep 0.05; done', env: {G: "{{ params.gate }}"}}
"""


def test_agents_are_listed_connected_or_not_with_what_they_hold(tmp_path, agents, broker_url):
    agent = agents("listed")
    (tmp_path / "one.yaml").write_text(ONE)
    store = f"sqlite:///{tmp_path}/journal.db"
    env = {**os.environ, "MURANO_FLOW_AGENT_SECRET": SECRET, "MURANO_FLOW_STORE": store,
           "MURANO_FLOW_HOME": str(tmp_path / "home"), "MURANO_FLOW_BROKER": broker_url}

    def mf(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "murano_flow", *args], env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    done = mf("deploy", str(tmp_path / "one.yaml"), "--id", "o1", "-p", f"queue={agent.queue}")
    assert done.returncode == 0, done.stderr
    listed = json.loads(mf("agent", "list", "-f", "json").stdout)
    assert [(a["queue"], a["connected"], a["consumers"], a["deployments"], a["holds"])
            for a in listed] == [(agent.queue, True, 1, ["o1"], [])]
    server = start(tmp_path / "api", store)
    try:
        with server.client("read") as reader:
            assert [a["connected"] for a in reader.get("/v1/agents").json()] == [True]
            agent.stop()
            wait_until(lambda: reader.get("/v1/agents").json()[0]["consumers"] == 0,
                       "the broker sees the agent gone")
            assert reader.get("/v1/agents").json()[0]["connected"] is False
    finally:
        stop(server)
    unreachable = mf("--broker", "amqp://guest:guest@127.0.0.1:1/", "agent", "list", "-f",
                     "json")
    assert unreachable.returncode == 0
    assert json.loads(unreachable.stdout)[0]["connected"] is None  # not known, not "down"


def test_engine_metrics_count_agents_notices_and_broker_reconnects(tmp_path, agents,
                                                                   forwarder):
    import httpx
    from kits.common import free_ports

    agent = agents("metered")
    (tmp_path / "one.yaml").write_text(ONE)
    port = free_ports(1)[0]
    env = {**os.environ, "MURANO_FLOW_AGENT_SECRET": SECRET, "MURANO_FLOW_BROKER": forwarder.url,
           "MURANO_FLOW_STORE": f"sqlite:///{tmp_path}/journal.db",
           "MURANO_FLOW_HOME": str(tmp_path / "home")}
    log = (tmp_path / "engine.log").open("wb")  # what went wrong, when something did
    engine = subprocess.Popen([sys.executable, "-m", "murano_flow", "engine", "serve", "--poll",
                               "0.2s", "--metrics", f"127.0.0.1:{port}"], env=env,
                              stdout=log, stderr=subprocess.STDOUT)

    def scraped() -> dict[str, float]:
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        except httpx.HTTPError:
            return {}
        return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                for line in text.splitlines() if line and not line.startswith("#")}

    try:
        wait_until(lambda: bool(scraped()), "the engine's metrics")
        done = subprocess.run([sys.executable, "-m", "murano_flow", "deploy",
                               str(tmp_path / "one.yaml"), "--id", "m1", "--detach", "-p",
                               f"queue={agent.queue}", "-p", f"gate={tmp_path / 'gate'}"],
                              env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        with SqliteStore(tmp_path / "journal.db") as store:
            wait_until(lambda: store.nodes("m1")[0].status in ("running", "failed"),
                       "the plan running")
            assert store.nodes("m1")[0].status == "running", (tmp_path / "engine.log"
                                                               ).read_text()
        # The node is journaled running before its plan goes out: the cut must come after
        # the transport's connection exists (the agent took the plan), or its first
        # connection would be made after the cut and no reconnect would be counted.
        wait_until(lambda: scraped().get('murano_flow_agent_notices_total{kind="accepted"}',
                                         0) >= 1, "the agent taking the plan")
        assert forwarder.cut() > 0  # the engine's broker connection breaks mid-plan ...
        wait_until(lambda: scraped().get(
            'murano_flow_broker_reconnects_total{client="amqp transport"}', 0) >= 1,
            "... and is made again, counted")
        (tmp_path / "gate").touch()  # the plan may end now
        waited = subprocess.run([sys.executable, "-m", "murano_flow", "wait", "m1"], env=env,
                                capture_output=True, text=True, timeout=300, check=False)
        assert waited.returncode == 0, waited.stdout + waited.stderr
        metrics = scraped()
        assert metrics['murano_flow_agent_notices_total{kind="accepted"}'] >= 1
        assert metrics['murano_flow_agent_notices_total{kind="result"}'] == 1
    finally:
        engine.terminate()
        engine.wait(60)
        log.close()
