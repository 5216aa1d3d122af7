"""Seeded graph shapes, identical for every contender.

A shape is a list of predecessor lists (``preds[i]``: the nodes node i requires), plus, for
the makespan shape, the duration of every node in seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

#: Width of the layered DAGs.
WIDTH = 10


@dataclass
class Shape:
    """A named graph: predecessors per node, optional per-node sleep durations."""

    name: str
    preds: list[list[int]]
    sleeps: list[float] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.preds)

    @property
    def edges(self) -> int:
        return sum(len(p) for p in self.preds)

    def critical_path(self) -> float:
        """Longest sum of sleeps along a dependency chain: the makespan lower bound."""
        finish = [0.0] * self.size
        for i, ps in enumerate(self.preds):  # nodes are numbered in a topological order
            finish[i] = max((finish[p] for p in ps), default=0.0) + self.sleeps[i]
        return max(finish, default=0.0)


def layered(n: int, *, full: bool = False, seed: int = 1) -> Shape:
    """Layers of WIDTH nodes; each requires 2 random nodes of the layer before (or all)."""
    rng = random.Random(seed)
    preds: list[list[int]] = []
    for i in range(n):
        layer = i // WIDTH
        if layer == 0:
            preds.append([])
            continue
        previous = range((layer - 1) * WIDTH, layer * WIDTH)
        preds.append(list(previous) if full else rng.sample(previous, 2))
    return Shape(f"layered{'-full' if full else ''}-{n}", preds)


def chain(n: int) -> Shape:
    """A single chain: no parallelism at all."""
    return Shape(f"chain-{n}", [[i - 1] if i else [] for i in range(n)])


def fan(width: int) -> Shape:
    """1 -> width -> 1."""
    preds: list[list[int]] = [[]] + [[0] for _ in range(width)] + [list(range(1, width + 1))]
    return Shape(f"fan-{width}", preds)


def makespan(n: int = 200, *, seed: int = 3) -> Shape:
    """Sleep actions of 20-50 ms with 0-3 random earlier requirements each."""
    rng = random.Random(seed)
    preds = [sorted(rng.sample(range(i), min(i, rng.randint(0, 3)))) for i in range(n)]
    sleeps = [rng.uniform(0.020, 0.050) for _ in range(n)]
    return Shape(f"makespan-{n}", preds, sleeps)


def by_name(name: str) -> Shape:
    """Rebuild a shape from its name (used by the per-measurement child processes)."""
    kind, _, size = name.rpartition("-")
    if kind == "layered":
        return layered(int(size))
    if kind == "layered-full":
        return layered(int(size), full=True)
    return {"chain": chain, "fan": fan, "makespan": makespan}[kind](int(size))
