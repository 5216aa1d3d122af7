"""Graph algorithms on nodes numbered 0..n-1, each with a list of predecessors.

Everything here is linear in nodes plus edges; nothing rescans the graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def successors(preds: Sequence[Sequence[int]]) -> list[list[int]]:
    """The reverse adjacency: for each node, the nodes that require it."""
    succ: list[list[int]] = [[] for _ in preds]
    for node, ps in enumerate(preds):
        for p in ps:
            succ[p].append(node)
    return succ


def find_cycle(preds: Sequence[Sequence[int]]) -> list[int] | None:
    """One dependency cycle as [a, b, ..., a] (a requires b ...), or None."""
    white, grey, black = 0, 1, 2
    color = [white] * len(preds)
    for root in range(len(preds)):
        if color[root] != white:
            continue
        stack: list[tuple[int, int]] = [(root, 0)]
        color[root] = grey
        while stack:
            node, i = stack[-1]
            if i < len(preds[node]):
                stack[-1] = (node, i + 1)
                nxt = preds[node][i]
                if color[nxt] == grey:
                    path = [n for n, _ in stack]
                    return [*path[path.index(nxt):], nxt]
                if color[nxt] == white:
                    color[nxt] = grey
                    stack.append((nxt, 0))
            else:
                color[node] = black
                stack.pop()
    return None


def waves(preds: Sequence[Sequence[int]]) -> list[list[int]]:
    """Kahn layering: wave k holds the nodes whose longest requirement chain is k."""
    succ = successors(preds)
    missing = [len(ps) for ps in preds]
    current = [n for n, m in enumerate(missing) if m == 0]
    out = []
    while current:
        out.append(current)
        nxt = []
        for node in current:
            for s in succ[node]:
                missing[s] -= 1
                if missing[s] == 0:
                    nxt.append(s)
        current = nxt
    return out


def ancestors(roots: Iterable[int], preds: Sequence[Sequence[int]]) -> set[int]:
    """``roots`` and everything they require, transitively."""
    seen = set(roots)
    stack = list(seen)
    while stack:
        for p in preds[stack.pop()]:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return seen


def requires_transitively(node: int, target: int, preds: Sequence[Sequence[int]]) -> bool:
    """Whether ``node`` requires ``target`` directly or through other nodes."""
    seen = {node}
    stack = [node]
    while stack:
        for p in preds[stack.pop()]:
            if p == target:
                return True
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return False
