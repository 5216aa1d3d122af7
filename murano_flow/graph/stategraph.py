"""The state graph of an expanded blueprint: numbered nodes, edges, waves, DOT export."""

from __future__ import annotations

from ..blueprint.spec import Blueprint, Node
from ..dag import successors, waves


class StateGraph:
    """Nodes numbered in blueprint order; ``preds[i]`` are what node i requires."""

    def __init__(self, blueprint: Blueprint) -> None:
        self.blueprint = blueprint
        self.names: list[str] = list(blueprint.nodes)
        self.ids: dict[str, int] = {n: i for i, n in enumerate(self.names)}
        self.nodes: list[Node] = [blueprint.nodes[n] for n in self.names]
        self.preds: list[list[int]] = [[self.ids[r] for r in n.requires] for n in self.nodes]
        self.succ: list[list[int]] = successors(self.preds)

    def __len__(self) -> int:
        return len(self.names)

    def waves(self) -> list[list[Node]]:
        """Groups of nodes that can run in parallel, in order."""
        return [[self.nodes[i] for i in wave] for wave in waves(self.preds)]

    def to_dot(self, status: dict[str, str] | None = None) -> str:
        """Graphviz source: one cluster per entity instance, edges from requirement to user."""
        colors = {"reached": "palegreen", "skipped": "lightblue", "failed": "salmon",
                  "running": "khaki", "in_doubt": "plum", "undone": "lightgrey",
                  "undo_failed": "salmon"}
        lines = [f'digraph "{_esc(self.blueprint.name)}" {{', "  rankdir=LR;",
                 '  node [shape=box, style="rounded,filled", fillcolor=white];']
        by_instance: dict[str, list[int]] = {}
        for i, node in enumerate(self.nodes):
            by_instance.setdefault(node.instance, []).append(i)
        for k, (instance, members) in enumerate(by_instance.items()):
            lines.append(f'  subgraph "cluster_{k}" {{ label="{_esc(instance)}";')
            for i in members:
                node = self.nodes[i]
                fill = colors.get((status or {}).get(node.name, ""), "white")
                shape = ', shape=ellipse' if node.action is None else ""
                lines.append(f'    n{i} [label="{_esc(node.state)}", fillcolor={fill}{shape}];')
            lines.append("  }")
        for i, preds in enumerate(self.preds):
            lines.extend(f"  n{p} -> n{i};" for p in preds)
        lines.append("}")
        return "\n".join(lines) + "\n"


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
