"""Render bench/results/latest.jsonl as the Markdown tables of docs/performance.md."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .run import RESULTS


def _f(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def main(path: Path = RESULTS / "latest.jsonl") -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    head = rows[0]
    print(f"Run {head['time']} on {head['machine']['platform']}, {head['machine']['cpus']} CPUs; "
          + ", ".join(f"{k} {v}" for k, v in head["versions"].items()) + ".\n")
    shapes = list(dict.fromkeys(r["shape"] for r in rows if r.get("kind") == "measurement"))
    print("| shape | contender | wall s | nodes/s | × floor | × TaskFlow | µs/node over floor "
          "| peak RSS MiB | makespan / CP |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|")
    for shape in shapes:
        for r in (r for r in rows if r.get("shape") == shape):
            if "error" in r:
                print(f"| {shape} | {r['contender']} | {r['error']} | | | | | | |")
                continue
            print(f"| {shape} | {r['contender']} | {r['wall']:.3f} | {r['nodes_per_s']:,.0f} | "
                  f"{_f(r.get('ratio_to_floor'), '.2f')} | "
                  f"{_f(r.get('ratio_to_taskflow'), '.3g')} | "
                  f"{_f(r.get('overhead_us_per_node'), '.1f')} | {r['rss_mib']:.0f} | "
                  f"{_f(r.get('makespan_ratio'), '.3f')} |")
    print("\n| family | contender | µs/node at 100 / 1k / 10k / 50k | max/min from 1k |")
    print("|---|---|---|--:|")
    for r in (r for r in rows if r.get("kind") == "growth"):
        sizes = " / ".join(f"{v:.1f}" for _, v in sorted((int(k), v) for k, v in
                                                           r["us_per_node"].items()))
        print(f"| {r['family']} | {r['contender']} | {sizes} | {r['spread_1k_up']:.2f} |")
    print("\n| target | value | met |\n|---|--:|:-:|")
    for r in (r for r in rows if r.get("kind") == "target"):
        value = "n/a" if r["value"] is None else f"{r['value']:.3g}"
        print(f"| {r['target']} | {value} | {'yes' if r['met'] else '**no**'} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS / "latest.jsonl")
