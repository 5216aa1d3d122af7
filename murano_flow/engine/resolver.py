"""Which nodes may run next: pure bookkeeping, no threads and no I/O.

Both directions are event-driven: when a node finishes, only its neighbours'
counters are touched, so a whole traversal costs O(nodes + edges).
"""

from __future__ import annotations

from collections.abc import Sequence


class Forward:
    """Deploying: a node may start once every node it requires is satisfied."""

    def __init__(self, preds: Sequence[Sequence[int]], succ: Sequence[Sequence[int]],
                 satisfied: Sequence[bool], todo: Sequence[bool]) -> None:
        self.succ, self.todo = succ, todo
        self.missing = [sum(1 for p in ps if not satisfied[p]) for ps in preds]

    def initial(self) -> list[int]:
        """Nodes to do that wait for nothing."""
        return [i for i, m in enumerate(self.missing) if m == 0 and self.todo[i]]

    def completed(self, node: int) -> list[int]:
        """Record that ``node`` is satisfied; return the nodes that became ready."""
        ready = []
        for s in self.succ[node]:
            self.missing[s] -= 1
            if self.missing[s] == 0 and self.todo[s]:
                ready.append(s)
        return ready


class Reverse:
    """Rolling back: a node is undone only after every node requiring it is undone."""

    def __init__(self, preds: Sequence[Sequence[int]], succ: Sequence[Sequence[int]],
                 todo: Sequence[bool]) -> None:
        self.preds, self.todo = preds, todo
        self.missing = [sum(1 for s in ss if todo[s]) for ss in succ]

    def initial(self) -> list[int]:
        """Nodes to undo that nothing still standing requires."""
        return [i for i, m in enumerate(self.missing) if m == 0 and self.todo[i]]

    def completed(self, node: int) -> list[int]:
        """Record that ``node`` is undone; return the nodes that became ready to undo."""
        ready = []
        for p in self.preds[node]:
            if self.todo[p]:
                self.missing[p] -= 1
                if self.missing[p] == 0:
                    ready.append(p)
        return ready
