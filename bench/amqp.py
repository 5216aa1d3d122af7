"""``make bench-amqp``: plan round trips through the real broker, side by side with raw pika.

Three contenders, same broker, same run, same message size, 1 and N agents:

* ``raw-pika`` (the floor): echo servers that take a message from their queue and publish
  it back to ``reply_to``; clients publish with confirms + persistent delivery and wait
  for the echo, on an exclusive reply queue. No signing, no spool, no process: what the
  broker itself costs.
* ``raw-pika-durable``: the same with a durable reply queue, as the engine's results queue
  is: both messages persistent on durable queues and confirmed, as ours are. The no-op
  target is stated against this one (a like-for-like durable request/reply).
* ``murano-noop``: real guest agents (signing, spool with fsyncs, notices) whose
  executor returns at once: the cost of the protocol and its durability.
* ``murano-sh``: real guest agents running the plan ``true`` under their supervisor:
  what a trivial action costs end to end.

Clients are engine threads (one per agent) sharing one :class:`Broker`, as in a run.
The engine's CPU time per plan (all its threads) is the per-plan engine overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pika

from murano_flow.cli.commands import DEFAULT_BROKER
from murano_flow.transports.amqp import Broker, Limits
from murano_flow.wire.protocol import Plan
from murano_flow.wire.signing import agent_key

SECRET = "bench-secret"
RESULTS = Path(__file__).parent / "results"


def _plan(i: int, body: str = "true") -> Plan:
    return Plan(id=f"bench/{uuid.uuid4().hex}/action/1", deployment="bench",
                node=f"vm[{i}].Step", kind="action", attempt=1, script_type="sh", body=body,
                params={"entity": f"vm[{i}]"}, timeout=60.0)


# -- the floor -------------------------------------------------------------------------


def echo_server(url: str, queue: str) -> None:
    """Child process: reply to every message with the same body (confirms on)."""
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    ch.confirm_delivery()
    ch.basic_qos(prefetch_count=1)
    ch.queue_declare(queue, durable=True)

    def on(ch: Any, method: Any, props: Any, body: bytes) -> None:
        ch.basic_publish("", props.reply_to, body, pika.BasicProperties(delivery_mode=2),
                         mandatory=True)
        ch.basic_ack(method.delivery_tag)

    ch.basic_consume(queue, on)
    ch.start_consuming()


def raw_client(url: str, queue: str, body: bytes, count: int, durable: bool) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    ch.confirm_delivery()
    if durable:  # like the engine's results queue: durable, removed when unused
        replies = ch.queue_declare(f"{queue}.replies", durable=True,
                                   arguments={"x-expires": 60_000}).method.queue
    else:
        replies = ch.queue_declare("", exclusive=True).method.queue
    ch.queue_declare(queue, durable=True)
    for _ in range(count):
        ch.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2,
                                                                reply_to=replies),
                         mandatory=True)
        for _method, _props, _data in ch.consume(replies, auto_ack=True):
            break
    ch.cancel()
    conn.close()


# -- contenders -------------------------------------------------------------------------


def run_agents(url: str, queues: list[str], spool: Path,
               noop: bool) -> list[subprocess.Popen[bytes]]:
    procs = []
    for q in queues:
        cfg = spool / f"{q}.json"
        cfg.write_text(json.dumps({"broker": url, "queue": q, "key": agent_key(SECRET, q),
                                   "spool": str(spool / q), "heartbeat": 5}))
        argv = [sys.executable, "-m", "bench.amqp", "--agent", str(cfg)]
        if noop:
            argv.append("--noop")
        procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL))
    return procs


def agent_main(config: str, noop: bool) -> None:
    """Child process: a real agent; with ``noop`` its executor answers without running."""
    from murano_flow_agent.agent import Agent
    from murano_flow_agent.config import load

    from murano_flow.transports.stub import StubTransport
    from murano_flow.wire.protocol import Result

    agent = Agent(load(config))
    if noop:
        stub = StubTransport(lambda plan: Result(plan.id, "ok", 0, started=time.time(),
                                                 finished=time.time()))
        agent._host = lambda plan: stub  # type: ignore[assignment,method-assign,return-value]
    agent.run()


def _in_threads(client: Callable[[int, str, int], None], queues: list[str], n: int) -> None:
    """Run ``client(i, queue, n)`` for every queue at once; wait for all."""
    threads = [threading.Thread(target=client, args=(i, q, n)) for i, q in enumerate(queues)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _warm_then_time(client: Callable[[int, str, int], None], queues: list[str],
                    n: int) -> tuple[float, float]:
    """Five warm-up round trips per queue, then (wall, CPU) seconds of ``n`` per queue."""
    _in_threads(client, queues, 5)
    cpu0, t0 = time.process_time(), time.perf_counter()
    _in_threads(client, queues, n)
    return time.perf_counter() - t0, time.process_time() - cpu0


def measure(kind: str, url: str, agents: int, plans: int) -> dict[str, Any]:
    queues = [f"bench.{kind}.{uuid.uuid4().hex[:6]}.{i}" for i in range(agents)]
    per_client = plans // agents
    with tempfile.TemporaryDirectory(prefix="mf-bench-") as tmp:
        raw = kind.startswith("raw-pika")
        if raw:
            procs = [subprocess.Popen([sys.executable, "-m", "bench.amqp", "--echo", q])
                     for q in queues]
        else:
            procs = run_agents(url, queues, Path(tmp), noop=kind == "murano-noop")
        try:
            if raw:
                body, durable = _plan(0).encode(), kind == "raw-pika-durable"
                wall, cpu = _warm_then_time(
                    lambda i, q, n: raw_client(url, q, body, n, durable), queues, per_client)
            else:
                with Broker(url, SECRET).acquire() as broker:
                    def loop(i: int, q: str, n: int) -> None:
                        for _ in range(n):
                            result = broker.call(q, _plan(i), Limits(ready_timeout=60))
                            assert result.ok, result
                    wall, cpu = _warm_then_time(loop, queues, per_client)
        finally:
            for p in procs:
                p.terminate()
                p.wait()
            with pika.BlockingConnection(pika.URLParameters(url)) as conn:
                ch = conn.channel()
                for q in queues:
                    ch.queue_delete(q)
                    ch.queue_delete(f"{q}.replies")
    done = per_client * agents
    return {"contender": kind, "agents": agents, "plans": done, "seconds": round(wall, 3),
            "plans_per_s": round(done / wall, 1),
            "engine_cpu_us_per_plan": round(cpu / done * 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--broker", default=os.environ.get("MURANO_FLOW_BROKER", DEFAULT_BROKER))
    parser.add_argument("--plans", type=int, default=2000, help="round trips per measurement")
    parser.add_argument("--agents", default="1,10")
    parser.add_argument("--echo", help=argparse.SUPPRESS)
    parser.add_argument("--agent", help=argparse.SUPPRESS)
    parser.add_argument("--noop", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo:
        return echo_server(args.broker, args.echo)
    if args.agent:
        return agent_main(args.agent, args.noop)
    rows = []
    for n in (int(a) for a in args.agents.split(",")):
        for kind in ("raw-pika", "raw-pika-durable", "murano-noop", "murano-sh"):
            plans = args.plans if kind != "murano-sh" else max(n * 20, args.plans // 4)
            row = measure(kind, args.broker, n, plans)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n{'agents':>6} {'contender':<16} {'plans/s':>9} {'vs raw':>7} {'vs durable':>10} "
          f"{'engine µs/plan':>15}")
    for row in rows:
        def rate(contender: str, agents: int = row["agents"]) -> float:
            return float(next(r["plans_per_s"] for r in rows
                              if r["agents"] == agents and r["contender"] == contender))
        print(f"{row['agents']:>6} {row['contender']:<16} {row['plans_per_s']:>9.1f} "
              f"{row['plans_per_s'] / rate('raw-pika'):>6.2f}x "
              f"{row['plans_per_s'] / rate('raw-pika-durable'):>9.2f}x "
              f"{row['engine_cpu_us_per_plan']:>15.1f}")
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / "amqp.jsonl").open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
