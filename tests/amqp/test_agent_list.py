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

pytestmark = pytest.mark.integration

ONE = """\
format: 1
name: one
parameters:
  queue: {type: string}
entities:
  app:
    host: {transport: amqp, queue: "{{ params.queue }}"}
    states:
      Deployed: {action: "echo hi"}
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
