"""The state graph of an expanded blueprint: numbered nodes, edges, waves, DOT export."""

from __future__ import annotations

from ..blueprint.spec import Blueprint, Node
from ..dag import successors, waves


class StateGraph:
    """Nodes numbered in blueprint order; ``requires[i]`` are what node i requires, and
    ``preds[i]`` those and the states whose transitions start it (a direct flow): every
    node comes after its preds, and is undone before them."""

    def __init__(self, blueprint: Blueprint) -> None:
        self.blueprint = blueprint
        self.names: list[str] = list(blueprint.nodes)
        self.ids: dict[str, int] = {n: i for i, n in enumerate(self.names)}
        self.nodes: list[Node] = [blueprint.nodes[n] for n in self.names]
        self.requires: list[list[int]] = [[self.ids[r] for r in n.requires]
                                          for n in self.nodes]
        self.preds: list[list[int]] = [list(r) for r in self.requires]
        #: Whether any entity follows a direct flow (then :class:`Direct` drives it).
        self.direct = False
        for i, node in enumerate(self.nodes):
            for name in (*node.on_success, *node.on_error, *node.on_complete):
                self.preds[self.ids[name]].append(i)
                self.direct = True
        self.succ: list[list[int]] = successors(self.preds)

    def __len__(self) -> int:
        return len(self.names)

    def waves(self) -> list[list[Node]]:
        """Groups of nodes that can run in parallel, in order."""
        return [[self.nodes[i] for i in wave] for wave in waves(self.preds)]

    def to_dot(self, status: dict[str, str] | None = None) -> str:
        """Graphviz source: one cluster per entity instance (inside one per part), edges
        from requirement to user; ``status`` (node -> status) colours the nodes. Each
        node's id is its state's name, so an SVG of it can be coloured live."""
        colors = {"reached": "palegreen", "skipped": "lightblue", "failed": "salmon",
                  "running": "khaki", "in_doubt": "plum", "undone": "lightgrey",
                  "undo_failed": "salmon"}
        lines = [f'digraph "{_esc(self.blueprint.name)}" {{', "  rankdir=LR;",
                 '  node [shape=box, style="rounded,filled", fillcolor=white];']
        by_instance: dict[str, list[int]] = {}
        for i, node in enumerate(self.nodes):
            by_instance.setdefault(node.instance, []).append(i)
        # a part is a cluster around the clusters of its entities (and its parts)
        scopes: dict[str, list[str]] = {}
        for instance, members in by_instance.items():
            scopes.setdefault(self.nodes[members[0]].scope, []).append(instance)
        clusters = iter(range(len(by_instance) + len(scopes)))

        def box(i: int, pad: str) -> str:
            node = self.nodes[i]
            fill = colors.get((status or {}).get(node.name, ""), "white")
            shape = ", shape=ellipse" if node.action is None else ""
            return (f'{pad}n{i} [id="{_esc(node.name)}", label="{_esc(node.state)}", '
                    f'fillcolor={fill}{shape}];')

        def emit(scope: str, depth: int) -> None:
            pad = "  " * depth
            for instance in scopes.get(scope, []):
                if instance == scope:  # the part's own Deployed sits in the part's cluster
                    lines.extend(box(i, pad) for i in by_instance[instance])
                    continue
                lines.append(f'{pad}subgraph "cluster_{next(clusters)}" {{ '
                             f'label="{_esc(instance.rsplit(".", 1)[-1])}";')
                lines.extend(box(i, pad + "  ") for i in by_instance[instance])
                lines.append(f"{pad}}}")
            for inner in [s for s in scopes if s and s.rpartition(".")[0] == scope]:
                lines.append(f'{pad}subgraph "cluster_{next(clusters)}" {{ '
                             f'label="part {_esc(inner.rsplit(".", 1)[-1])}"; style=dashed;')
                emit(inner, depth + 1)
                lines.append(f"{pad}}}")

        emit("", 1)
        for i, preds in enumerate(self.preds):
            lines.extend(f"  n{p} -> n{i};" for p in preds)
        lines.append("}")
        return "\n".join(lines) + "\n"


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
