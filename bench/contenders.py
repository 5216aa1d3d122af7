"""The contenders, each running a Shape to completion with the same worker count.

- ``floor``: the simplest thread-pool topological executor, written here: what Python can do
  at best for this job.
- ``murano-memory`` / ``murano-sqlite`` / ``murano-sqlite-full``: murano-flow's engine, fed a
  blueprint generated from the shape, with the in-memory store or the SQLite journal
  (kill-9-safe ``synchronous=NORMAL`` and power-loss-safe ``synchronous=FULL``).
- ``taskflow-memory`` / ``taskflow-sqlite``: OpenStack TaskFlow's parallel engine on a
  graph_flow with the same links, memory backend or its SQLAlchemy/sqlite backend, with a
  thread pool passed in (made and shut down outside the timing, as it should be).
"""

from __future__ import annotations

import contextlib
import queue
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .shapes import Shape


def _work(shape: Shape) -> Callable[[int], None]:
    if shape.sleeps:
        return lambda i: time.sleep(shape.sleeps[i])
    return lambda i: None


def floor(shape: Shape, workers: int) -> dict[str, Any]:
    """Indegree counters, a thread pool, a completion queue. Nothing else."""
    n, work = shape.size, _work(shape)
    succ: list[list[int]] = [[] for _ in range(n)]
    for i, ps in enumerate(shape.preds):
        for p in ps:
            succ[p].append(i)
    missing = [len(p) for p in shape.preds]
    done: queue.SimpleQueue[int] = queue.SimpleQueue()

    def run(i: int) -> None:
        work(i)
        done.put(i)

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        for i in range(n):
            if missing[i] == 0:
                pool.submit(run, i)
        for _ in range(n):
            i = done.get()
            for s in succ[i]:
                missing[s] -= 1
                if missing[s] == 0:
                    pool.submit(run, s)
    return {"wall": time.perf_counter() - start}


def blueprint_text(shape: Shape) -> str:
    """The shape as a murano-flow blueprint: one entity per node, its Deployed state."""
    lines = ["format: 1", f"name: {shape.name}", "entities:"]
    for i, ps in enumerate(shape.preds):
        reqs = ", ".join(f"n{p}.Deployed" for p in ps)
        lines.append(f"  n{i}: {{states: {{Deployed: {{requires: [{reqs}], action: work}}}}}}")
    return "\n".join(lines) + "\n"


def murano(shape: Shape, workers: int, store_kind: str) -> dict[str, Any]:
    """murano-flow's engine on the shape; blueprint parsing is timed separately."""
    from murano_flow import Engine, MemoryStore, SqliteStore, parse_blueprint
    from murano_flow.transports.base import Transport
    from murano_flow.wire.protocol import Plan, Result

    sleeps = {f"n{i}.Deployed": s for i, s in enumerate(shape.sleeps)}

    class Noop(Transport):
        """Answers every plan at once (or after the shape's sleep) without keeping it."""

        def send(self, plan: Plan) -> Result:
            if sleeps:
                time.sleep(sleeps[plan.node])
            return Result(plan.id, "ok", 0)

    t0 = time.perf_counter()
    bp = parse_blueprint(blueprint_text(shape), f"{shape.name}.yaml")
    parsed = time.perf_counter() - t0
    rss_parse = _peak_rss_mib()
    with tempfile.TemporaryDirectory() as tmp:
        if store_kind == "memory":
            store: Any = MemoryStore()
        else:
            store = SqliteStore(Path(tmp) / "journal.db", sync=store_kind)
        transport = Noop()
        engine = Engine(store, lambda kind, fields: transport, workers=workers)
        dep = engine.create(bp)
        start = time.perf_counter()
        final = engine.deploy(bp, dep.id)
        wall = time.perf_counter() - start
        store.close()
    assert final.state == "succeeded", final.reason
    return {"wall": wall, "parse": parsed, "rss_after_parse_mib": rss_parse}


def _peak_rss_mib() -> float:
    """Peak resident set so far (VmHWM), to tell the parser's share from the engine's."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:"))


def taskflow(shape: Shape, workers: int, backend_kind: str) -> dict[str, Any]:
    """TaskFlow's parallel engine (threaded executor) on a graph_flow with the same links."""
    import futurist
    from taskflow import engines, task
    from taskflow.patterns import graph_flow
    from taskflow.persistence import backends

    sleeps = shape.sleeps

    class Work(task.Task):  # type: ignore[misc]
        def __init__(self, index: int) -> None:
            super().__init__(name=f"n{index}")
            self.index = index

        def execute(self) -> None:
            if sleeps:
                time.sleep(sleeps[self.index])

    flow = graph_flow.Flow(shape.name)
    tasks = [Work(i) for i in range(shape.size)]
    flow.add(*tasks)
    for i, ps in enumerate(shape.preds):
        for p in ps:
            flow.link(tasks[p], tasks[i])
    with tempfile.TemporaryDirectory() as tmp:
        backend = None
        if backend_kind == "sqlite":
            backend = backends.fetch({"connection": f"sqlite:///{tmp}/taskflow.db"})
            with contextlib.closing(backend.get_connection()) as conn:
                conn.upgrade()
        # The pool is made and shut down outside the timing, as murano-flow's engine is
        # timed without its own start-up: a pool TaskFlow owns adds ~1 s to every run
        # (its idle workers poll for a second before they stop).
        pool = futurist.ThreadPoolExecutor(max_workers=workers)
        engine = engines.load(flow, engine="parallel", executor=pool, backend=backend)
        start = time.perf_counter()
        engine.run()
        wall = time.perf_counter() - start
        pool.shutdown()
    return {"wall": wall}


#: name -> runner(shape, workers) for every contender.
CONTENDERS: dict[str, Callable[[Shape, int], dict[str, Any]]] = {
    "floor": floor,
    "murano-memory": lambda s, w: murano(s, w, "memory"),
    "murano-sqlite": lambda s, w: murano(s, w, "normal"),
    "murano-sqlite-full": lambda s, w: murano(s, w, "full"),
    "taskflow-memory": lambda s, w: taskflow(s, w, "memory"),
    "taskflow-sqlite": lambda s, w: taskflow(s, w, "sqlite"),
}
