"""sql-alwayson.yaml on its own (against an existing domain), through guest agents: the
hosts of a copy of the blueprint are turned into amqp hosts, one agent per SQL node, each
running the scripted Windows host of tests/kits/scriptedps.py as its ``pwsh`` (the local
runner's PowerShell) and "rebooting" by dying, to be started again as a service manager
would. The engine is killed once mid-deployment; every change happens once; then the
deployment is rolled back entirely."""

from __future__ import annotations

import json
import shutil
import stat
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from faults.harness import Crasher
from kits import scriptedps
from kits.common import AGENT_SECRET, ROOT, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.faults]

NODES = {"SQL1": "10.0.1.11", "SQL2": "10.0.1.12"}
#: The agent's reboot: count the boot, then die as the host goes down.
REBOOT = [sys.executable, "-c", "import os, pathlib, signal; p = pathlib.Path("
          "os.environ['SCRIPTED_PS_HOME'], 'boots'); p.write_text(str(int(p.read_text() "
          "if p.exists() else '0') + 1)); os.kill(os.getppid(), signal.SIGKILL)"]


def _as_agent_hosts(blueprint: Path) -> None:
    """Every winrm host of ``blueprint`` becomes the amqp host of its node's agent, whose
    queue a new parameter ``agent_queues`` gives."""
    data = yaml.safe_load(blueprint.read_text())
    data["parameters"]["agent_queues"] = {"type": "list"}
    for entity in data["entities"].values():
        for holder in [entity, *entity["states"].values()]:
            if isinstance(holder, dict) and isinstance(holder.get("host"), dict):
                holder["host"] = {"transport": "amqp", "name": "{{ params.node_names[index] }}",
                                  "queue": "{{ params.agent_queues[index] }}"}
    blueprint.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def sql_nodes(tmp_path: Path, agents):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pwsh = bin_dir / "pwsh"
    pwsh.write_text(f"#!/bin/sh\nexec {sys.executable} {scriptedps.__file__} \"$@\"\n")
    pwsh.chmod(pwsh.stat().st_mode | stat.S_IXUSR)
    blueprints = tmp_path / "blueprints"
    shutil.copytree(ROOT / "blueprints", blueprints)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(scriptedps.catalog(blueprints)))
    effects = tmp_path / "effects.txt"
    effects.touch()
    made, homes = {}, {}
    for name, address in NODES.items():
        homes[name] = tmp_path / name
        homes[name].mkdir()
        made[name] = agents(name, reboot_command=REBOOT, reboot_wait=60, env={
            "PATH": f"{bin_dir}:/usr/bin:/bin", "SCRIPTED_PS_CATALOG": str(catalog),
            "SCRIPTED_PS_EFFECTS": str(effects), "SCRIPTED_PS_ADDRESS": address,
            "SCRIPTED_PS_HOME": str(homes[name])})
    blueprint = blueprints / "sql-alwayson.yaml"
    _as_agent_hosts(blueprint)
    stop = threading.Event()

    def service_manager() -> None:  # starts an agent again once its host "booted"
        while not stop.wait(0.1):
            for agent in made.values():
                if agent.proc is not None and agent.proc.poll() is not None:
                    time.sleep(0.3)
                    agent.start()

    watcher = threading.Thread(target=service_manager, daemon=True)
    watcher.start()
    params = tmp_path / "params.json"
    params.write_text(json.dumps({
        "agent_queues": [made[n].queue for n in NODES], "admin_password": "Local-Passw0rd1",
        "domain_password": "Domain-Passw0rd1", "service_password": "Serv1ce-Passw0rd"}))
    yield blueprint, params, effects, homes, made
    stop.set()
    watcher.join()


def test_sql_alwayson_alone_through_guest_agents_deploys_through_a_kill_and_rolls_back(
        tmp_path: Path, sql_nodes, broker_url):
    blueprint, params, effects, homes, agents = sql_nodes
    crasher = Crasher(tmp_path / "home", "sql", seed=2,
                      env={"MURANO_FLOW_BROKER": broker_url,
                           "MURANO_FLOW_AGENT_SECRET": AGENT_SECRET})
    engine = crasher.command("deploy", str(blueprint), "--id", "sql", "--params-file",
                             str(params))
    # killed as the first node joins the domain: that plan and its reboot go on without it
    wait_until(lambda: " join" in effects.read_text() or engine.poll() is not None,
               "a node to join the domain")
    engine.kill()
    assert engine.wait() == -9
    resumed = crasher.command("resume", "sql", "--params-file", str(params))
    logs = "\n".join(a.log_text()[-1500:] for a in agents.values())
    assert resumed.wait(timeout=300) == 0, logs
    assert crasher.state() == "succeeded"
    done = [tuple(ln.split(" ")[1:]) for ln in effects.read_text().splitlines()
            if ln.startswith("effect ")]
    twice = {e: n for e, n in Counter(done).items() if n != 1}
    assert not twice, f"changed more than once: {twice}"
    sql1, sql2 = NODES.values()
    assert {(sql1, "sql"), (sql2, "sql"), (sql1, "group:AG1"), (sql2, "replica:AG1")} <= set(done)
    # each rename, join and SQL setup's 3010 rebooted the node, nothing else did
    assert [a.starts for a in agents.values()] == [4, 4], logs

    rollback = crasher.command("rollback", "sql", "--params-file", str(params))
    assert rollback.wait(timeout=300) == 0
    undone = [tuple(ln.split(" ")[1:]) for ln in effects.read_text().splitlines()
              if ln.startswith("undo ")]
    assert sorted(undone) == sorted(e for e in done if e[1] not in ("rename", "dns",
                                                                     "database:AppDb"))
    for home in homes.values():
        model = scriptedps.host_state(home)
        assert (model["domain"], model["features"], model["sql"], model["cluster"]) == (
            None, [], False, None), model
