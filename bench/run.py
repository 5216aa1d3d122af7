"""``make bench``: every contender on every shape, side by side in one run, as ratios.

Each measurement runs in a fresh child process, so that its peak RSS is its own. Contenders
are interleaved per shape and repeated; the best (lowest) wall time of the repeats is kept.
A contender's series (one family of shapes, growing sizes) stops once a size takes longer
than --limit seconds, and the table says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections import defaultdict
from importlib import metadata
from pathlib import Path
from typing import Any

from . import shapes as S
from .contenders import CONTENDERS, blueprint_text

RESULTS = Path(__file__).parent / "results"


def plan_of_shapes(quick: bool) -> list[tuple[str, list[S.Shape], int]]:
    """(family, shapes by growing size, workers) in the order they are measured."""
    sizes = [100, 1000] if quick else [100, 1000, 10_000, 50_000]
    return [
        ("layered", [S.layered(n) for n in sizes], 8),
        ("layered-full", [S.layered(n, full=True) for n in sizes], 8),
        ("chain", [S.chain(2000)], 8),
        ("fan", [S.fan(2000)], 8),
        ("makespan", [S.makespan(200)], 64),
    ]


def child(contender: str, shape_name: str, workers: int) -> None:
    """Run one measurement and print it as JSON (child-process mode)."""
    shape = S.by_name(shape_name)
    out = CONTENDERS[contender](shape, workers)
    out["rss_mib"] = peak_rss_mib()
    print(json.dumps(out))


def peak_rss_mib() -> float:
    """This process's peak resident set size.

    VmHWM belongs to this process image; ru_maxrss would also count the parent's peak,
    which Linux carries across fork and exec.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(contender: str, shape: S.Shape, workers: int, timeout: float) -> dict[str, Any]:
    """One measurement in a child process; {'error': ...} if it failed or ran too long."""
    cmd = [sys.executable, "-m", "bench.run", "--child", contender, shape.name, str(workers)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              cwd=Path(__file__).parent.parent, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"stopped after {timeout:.0f} s"}
    if proc.returncode:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


#: A 10,000-node blueprint written the way people write them: counted entities.
COUNTED = """
format: 1
name: counted
parameters:
  n: {type: integer, default: 2500}
entities:
  vm:
    count: "{{ params.n }}"
    host: {transport: local, name: "vm-{{ index }}"}
    states:
      Allocated: {action: {inline: allocate, env: {I: "{{ index }}"}}, outputs: [ip]}
      Configured:
        requires: [Allocated, "{% if index > 0 %}vm[0].Configured{% endif %}"]
        action: {inline: configure, env: {IP: "{{ outputs['Allocated'].ip }}"}}
      Joined: {requires: Configured, action: join}
      Deployed: {requires: ["Joined"]}
"""


def validate_and_plan() -> list[dict[str, Any]]:
    """Seconds for `validate` + `plan` of two 10,000-node blueprints (CLI code path)."""
    from murano_flow.blueprint import parse_blueprint
    from murano_flow.graph.stategraph import StateGraph

    out = []
    for name, text in (("explicit (one entity per node)", blueprint_text(S.layered(10_000))),
                       ("counted (2,500 members x 4 states)", COUNTED)):
        start = time.perf_counter()
        bp = parse_blueprint(text, "big.yaml")
        StateGraph(bp).waves()
        out.append({"kind": "validate+plan", "blueprint": name, "nodes": len(bp.nodes),
                    "wall": time.perf_counter() - start})
    return out


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("murano-flow", "taskflow", "transitions", "PyYAML", "SQLAlchemy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "missing"
    try:
        out["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], text=True,
                                       capture_output=True, check=False).stdout.strip()
    except OSError:
        out["commit"] = ""
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--child", nargs=3, metavar=("CONTENDER", "SHAPE", "WORKERS"))
    ap.add_argument("--quick", action="store_true", help="sizes up to 1,000 only")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (best kept)")
    ap.add_argument("--limit", type=float, default=60.0, help="stop a series past this (s)")
    ap.add_argument("--timeout", type=float, default=120.0, help="kill one run after this (s)")
    ap.add_argument("--only", nargs="*", choices=sorted(CONTENDERS), default=sorted(CONTENDERS))
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return

    RESULTS.mkdir(exist_ok=True)
    header = {"kind": "run", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "processor": platform.machine()}, "versions": versions()}
    rows: list[dict[str, Any]] = [header]
    stopped: dict[tuple[str, str], str] = {}
    for family, series, workers in plan_of_shapes(args.quick):
        for shape in series:
            best: dict[str, dict[str, Any]] = {}
            reps = args.repeat if shape.size <= 10_000 else 1
            for _ in range(reps):
                for name in args.only:
                    if (name, family) in stopped:
                        continue
                    if name in best and best[name].get("wall", 0) > 5:
                        continue  # slow enough that one run says it all
                    got = measure(name, shape, workers, args.timeout)
                    if "error" in got or got["wall"] < best.get(name, {"wall": 1e18})["wall"]:
                        best[name] = got
                    if "error" in got:
                        stopped[(name, family)] = got["error"]
            for name in args.only:
                if name not in best:
                    rows.append(_row(family, shape, workers, name,
                                     {"error": f"not run: {stopped[(name, family)]}"}))
                    continue
                rows.append(_row(family, shape, workers, name, best[name]))
                if best[name].get("wall", 0) > args.limit and (name, family) not in stopped:
                    stopped[(name, family)] = f"{shape.name} took {best[name]['wall']:.0f} s " \
                                              f"(> {args.limit:.0f} s)"
            _ratios(rows, shape.name)
            _print_shape(rows, shape.name)
    print()
    for vp in validate_and_plan():
        rows.append(vp)
        print(f"validate + plan, {vp['nodes']:,}-node blueprint, {vp['blueprint']}: "
              f"{vp['wall']:.2f} s")
    _growth(rows)
    _targets(rows)
    out = RESULTS / "latest.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"\nwrote {out}")


def _row(family: str, shape: S.Shape, workers: int, name: str, got: dict[str, Any]
         ) -> dict[str, Any]:
    row = {"kind": "measurement", "family": family, "shape": shape.name, "nodes": shape.size,
           "edges": shape.edges, "workers": workers, "contender": name, **got}
    if "wall" in got:
        row["nodes_per_s"] = shape.size / got["wall"]
        row["us_per_node"] = got["wall"] / shape.size * 1e6
        if shape.sleeps:
            row["critical_path"] = shape.critical_path()
            row["makespan_ratio"] = got["wall"] / row["critical_path"]
    return row


def _ratios(rows: list[dict[str, Any]], shape_name: str) -> None:
    mine = {r["contender"]: r for r in rows
            if r.get("shape") == shape_name and "nodes_per_s" in r}
    floor, tf = mine.get("floor"), mine.get("taskflow-memory")
    for r in mine.values():
        if floor:
            r["ratio_to_floor"] = r["nodes_per_s"] / floor["nodes_per_s"]
            r["overhead_us_per_node"] = (r["wall"] - floor["wall"]) / r["nodes"] * 1e6
        if tf:
            r["ratio_to_taskflow"] = r["nodes_per_s"] / tf["nodes_per_s"]


def _print_shape(rows: list[dict[str, Any]], shape_name: str) -> None:
    mine = [r for r in rows if r.get("shape") == shape_name]
    first = mine[0]
    print(f"\n{shape_name}: {first['nodes']:,} nodes, {first['edges']:,} edges, "
          f"{first['workers']} workers")
    print(f"  {'contender':<20}{'wall s':>9}{'nodes/s':>11}{'x floor':>9}{'x taskflow':>11}"
          f"{'µs/node over floor':>20}{'RSS MiB':>9}{'makespan/CP':>13}")
    for r in mine:
        if "error" in r:
            print(f"  {r['contender']:<20}  {r['error']}")
            continue
        print(f"  {r['contender']:<20}{r['wall']:>9.3f}{r['nodes_per_s']:>11,.0f}"
              f"{_fmt(r.get('ratio_to_floor'), '.2f')}{_fmt(r.get('ratio_to_taskflow'), '.1f', 11)}"
              f"{_fmt(r.get('overhead_us_per_node'), '.1f', 20)}{r['rss_mib']:>9.0f}"
              f"{_fmt(r.get('makespan_ratio'), '.3f', 13)}")


def _fmt(value: float | None, spec: str, width: int = 9) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}{spec}}"


def _growth(rows: list[dict[str, Any]]) -> None:
    per: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for r in rows:
        if r.get("family") in ("layered", "layered-full") and "us_per_node" in r:
            per[(r["family"], r["contender"])][r["nodes"]] = r["us_per_node"]
    print("\ntime per node (µs) as the layered graphs grow; spread = max/min from 1,000 up")
    for (family, name), by_size in sorted(per.items()):
        big = {n: v for n, v in by_size.items() if n >= 1000}
        spread = max(big.values()) / min(big.values()) if len(big) > 1 else float("nan")
        sizes = "  ".join(f"{n:>6,}: {v:8.1f}" for n, v in sorted(by_size.items()))
        rows.append({"kind": "growth", "family": family, "contender": name,
                     "us_per_node": by_size, "spread_1k_up": spread})
        print(f"  {family:<13}{name:<20}{sizes}   spread {spread:.2f}")


def _targets(rows: list[dict[str, Any]]) -> None:
    def get(shape: str, name: str, key: str) -> float | None:
        for r in rows:
            if r.get("shape") == shape and r.get("contender") == name and key in r:
                return float(r[key])
        return None

    checks = []
    for family in ("layered", "layered-full"):
        for n in (10_000, 50_000):
            v = get(f"{family}-{n}", "murano-memory", "ratio_to_floor")
            checks.append((f"{family}: in-memory engine >= 25% of floor at {n:,} nodes", v,
                           v and v >= 0.25))
        spread = [r["spread_1k_up"] for r in rows if r.get("kind") == "growth"
                  and r["family"] == family and r["contender"] == "murano-memory"]
        checks.append((f"{family}: time per node flat 1k..50k (max/min <= 1.3/0.7)",
                       spread[0] if spread else None, bool(spread) and spread[0] <= 1.3 / 0.7))
        rss = get(f"{family}-50000", "murano-memory", "rss_mib")
        checks.append((f"{family}: peak RSS < 500 MiB at 50,000 nodes", rss, rss and rss < 500))
        for n in (10_000, 50_000):
            v = get(f"{family}-{n}", "murano-sqlite", "ratio_to_floor")
            checks.append((f"{family}: SQLite (kill-9-safe) >= 10% of floor at {n:,}", v,
                           v and v >= 0.10))
    v = get("makespan-200", "murano-memory", "makespan_ratio")
    checks.append(("makespan / critical path <= 1.05", v, v and v <= 1.05))
    v = get("layered-1000", "murano-memory", "ratio_to_taskflow")
    checks.append((">= 100x TaskFlow's nodes/s at 1,000 nodes", v, v and v >= 100))
    for r in rows:
        if r.get("kind") == "validate+plan":
            checks.append((f"validate + plan of 10,000 nodes < 2 s ({r['blueprint']})",
                           r["wall"], r["wall"] < 2))
    print("\ntargets")
    for text, value, ok in checks:
        shown = "not measured in this run" if value is None else f"{value:.3g}"
        verdict = "n/a " if value is None else ("PASS" if ok else "MISS")
        print(f"  {verdict}  {text}: {shown}")
        rows.append({"kind": "target", "target": text, "value": value, "met": bool(ok)})


if __name__ == "__main__":
    main()
