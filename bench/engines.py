"""``make bench-engines``: several engine services sharing PostgreSQL and RabbitMQ.

Two measurements, each side by side in one process run:

* **Throughput with 1, 2 and 3 engines**: the same batch of deployments (HOSTS agent
  hosts x STEPS chained no-op actions each) is submitted at once to N ``engine serve``
  processes; agents are real guest agents whose executor answers at once (the protocol,
  signing and spool, not a process), so what is measured is the engines, the journal
  and the broker. Reported: deployments/minute, actions/second, and the ratio to one
  engine.
* **Journal cost per transition**: the engine's own commit (one fenced transaction: node
  rows + events) against SQLite and PostgreSQL, one node per commit and 16 per commit
  (the engine group-commits completions that arrive together).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pika

from bench.amqp import SECRET, run_agents
from murano_flow.blueprint import parse_blueprint
from murano_flow.cli.commands import DEFAULT_BROKER
from murano_flow.engine.engine import Engine
from murano_flow.store import open_store
from murano_flow.store.base import DeploymentRecord, Event, NodeRecord, Store

RESULTS = Path(__file__).parent / "results"
PG_SERVER = os.environ.get("MURANO_FLOW_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def blueprint(hosts: int, steps: int, prefix: str, agents: int, offset: int) -> str:
    """HOSTS agent hosts (spread over the agents' queues PREFIX.0 ..) with STEPS chained
    no-op actions each."""
    states = "\n".join(
        f"      S{k}: {{{'requires: S' + str(k - 1) + ', ' if k else ''}action: 'true'}}"
        for k in range(steps))
    return f"""format: 1
name: noop
entities:
  vm:
    count: {hosts}
    host:
      transport: amqp
      name: "vm-{{{{ index }}}}"
      queue: "{prefix}.{{{{ (index + {offset}) % {agents} }}}}"
    states:
{states}
      Deployed: {{requires: S{steps - 1}}}
"""


# -- PostgreSQL databases of our own ---------------------------------------------------


def new_database() -> str:
    import psycopg

    name = f"mf_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(PG_SERVER)._replace(path=f"/{name}"))
    with open_store(url, check_schema=False) as store:
        store.upgrade()
    return url


def drop_database(url: str) -> None:
    import psycopg

    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path[1:]}" WITH (FORCE)')


# -- throughput with N engines ---------------------------------------------------------


def engines_run(engines: int, deployments: int, hosts: int, steps: int, agents: int,
                broker: str, work: Path) -> dict[str, Any]:
    work.mkdir(parents=True)
    url = new_database()
    prefix = f"mf-bench-engines.{uuid.uuid4().hex[:6]}"
    queues = [f"{prefix}.{i}" for i in range(agents)]
    agent_procs = run_agents(broker, queues, work, noop=True)
    env = {**os.environ, "MURANO_FLOW_AGENT_SECRET": SECRET, "MURANO_FLOW_BROKER": broker}
    serve = [subprocess.Popen(
        [sys.executable, "-m", "murano_flow", "--store", url, "--home", str(work / f"e{k}"),
         "engine", "serve", "--poll", "0.2s", "--max-deployments", "8",
         "--per-deployment", "16", "--max-actions", "64"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for k in range(engines)]
    store: Store | None = None
    try:
        store = open_store(url)
        while len(store.engines()) < engines:
            time.sleep(0.1)
        submitter = Engine(store, lambda kind, fields: None)
        ids = []
        for d in range(deployments):
            text = blueprint(hosts, steps, prefix, agents, d * hosts)
            bp = parse_blueprint(text, "noop.yaml", {}, strict=True)
            ids.append(submitter.create(bp, f"n{d:03}", {"text": bp.text, "scripts": {}}).id)
        start = time.perf_counter()
        for dep_id in ids:
            store.set_request(dep_id, "deploy")
        while True:
            states = [d.state for d in store.deployments(deployments + 10)]
            if all(s in ("succeeded", "failed") for s in states):
                break
            time.sleep(0.05)
        took = time.perf_counter() - start
        failed = states.count("failed")
        engines_used = len({e.engine for d in ids for e in store.events(d) if e.engine})
    finally:
        if store is not None:
            store.close()
        for p in serve:
            p.send_signal(signal.SIGTERM)
        for p in serve:
            p.wait(timeout=60)
        for p in agent_procs:
            p.terminate()
            p.wait(timeout=30)
        with pika.BlockingConnection(pika.URLParameters(broker)) as conn:
            for q in queues:
                conn.channel().queue_delete(q)
        drop_database(url)
    actions = deployments * hosts * steps
    return {"engines": engines, "deployments": deployments, "actions": actions,
            "seconds": round(took, 2), "failed": failed, "engines_used": engines_used,
            "deployments_per_min": round(deployments / took * 60, 1),
            "actions_per_s": round(actions / took, 1)}


# -- the journal's cost per transition --------------------------------------------------


def commit_cost(store: Store, batch: int, commits: int) -> float:
    """Microseconds per transition for ``commits`` fenced commits of ``batch`` nodes."""
    now = time.time()
    dep = DeploymentRecord("t", "bench", "b.yaml", "x", "running", now, now)
    nodes = [NodeRecord("t", f"vm[{i}].S", f"vm[{i}]", "S", has_action=True) for i in range(64)]
    store.create(dep, nodes, [])
    store.claim("t", "bench-engine", "", ttl=300)
    start = time.perf_counter()
    for c in range(commits):
        moved = [nodes[(c * batch + k) % 64] for k in range(batch)]
        for n in moved:
            n.attempt += 1
            n.status = "running" if n.attempt % 2 else "reached"
        store.commit("t", moved, [Event("t", time.time(), n.status, n.name, n.status,
                                        n.attempt, "attempt 1 on vm") for n in moved],
                     owner="bench-engine")
    return (time.perf_counter() - start) / (commits * batch) * 1e6


def transitions(work: Path, commits: int) -> list[dict[str, Any]]:
    rows = []
    for batch in (1, 16):
        n = max(10, commits // batch)
        with open_store(f"sqlite:///{work}/cost-{batch}.db") as lite:
            sqlite_us = commit_cost(lite, batch, n)
        url = new_database()
        try:
            with open_store(url) as pg:
                pg_us = commit_cost(pg, batch, n)
        finally:
            drop_database(url)
        rows.append({"nodes_per_commit": batch, "sqlite_us": round(sqlite_us, 1),
                     "postgresql_us": round(pg_us, 1), "ratio": round(pg_us / sqlite_us, 2)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", default=os.environ.get("MURANO_FLOW_BROKER",
                                                           DEFAULT_BROKER))
    parser.add_argument("--deployments", type=int, default=24)
    parser.add_argument("--hosts", type=int, default=6)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--agents", type=int, default=12)
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--engines", default="1,2,3")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    lines = [f"# {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores: "
             f"{args.deployments} deployments x {args.hosts} hosts x {args.steps} no-op "
             f"actions, {args.agents} agents", "",
             "engines  seconds  deployments/min  actions/s  vs 1 engine  engines used"]
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = None
        for n in (int(x) for x in args.engines.split(",")):
            run = engines_run(n, args.deployments, args.hosts, args.steps, args.agents,
                              args.broker, Path(tmp) / f"run{n}")
            base = base or run["actions_per_s"]
            records.append(run)
            lines.append(f"{n:7}  {run['seconds']:7.2f}  {run['deployments_per_min']:15.1f}"
                         f"  {run['actions_per_s']:9.1f}  {run['actions_per_s'] / base:10.2f}x"
                         f"  {run['engines_used']:12}" + (f"  FAILED {run['failed']}"
                                                         if run["failed"] else ""))
            print(lines[-1], flush=True)
        lines += ["", "nodes/commit  SQLite µs/transition  PostgreSQL µs/transition  ratio"]
        for row in transitions(Path(tmp), args.commits):
            records.append(row)
            lines.append(f"{row['nodes_per_commit']:12}  {row['sqlite_us']:20.1f}  "
                         f"{row['postgresql_us']:24.1f}  {row['ratio']:5.2f}x")
            print(lines[-1], flush=True)
    (RESULTS / "engines.txt").write_text("\n".join(lines) + "\n")
    with (RESULTS / "engines.jsonl").open("a") as f:
        for r in records:
            f.write(json.dumps({"ts": time.time(), **r}) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
