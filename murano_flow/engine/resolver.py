"""Flow control: which nodes may run next. Pure bookkeeping, no threads and no I/O.

A :class:`Flow` is told how each node ended and answers which nodes that makes ready.
Two strategies implement it going forward: :class:`Forward` (dependency-driven: a node
runs once every node it requires is satisfied) and :class:`Direct` (Mistral's direct
workflows: in an entity with ``flow: direct`` a state runs when a transition into it
fires - ``on_success``, ``on_error``, ``on_complete`` of another state - and a state no
transition reaches is passed over). :class:`Reverse` undoes in reverse dependency order.

All are event-driven: when a node ends, only its neighbours' counters are touched, so
a whole traversal costs O(nodes + edges).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..blueprint.spec import Node
from ..dag import successors
from ..states import SATISFIED, NodeState


class Flow(Protocol):
    """What the run loop asks of a flow-control strategy."""

    def initial(self) -> list[int]:
        """Nodes to do that wait for nothing."""

    def completed(self, node: int) -> list[int]:
        """``node`` is satisfied (or undone): the nodes that became ready."""

    def skipped(self, node: int) -> list[int]:
        """``node`` was passed over (never ran): the nodes that became ready."""

    def failed(self, node: int) -> list[int] | None:
        """``node`` failed: the nodes its failure starts, or None when nothing handles it
        (then its ``on_failure`` policy applies)."""

    def passed_over(self) -> list[int]:
        """Nodes found since the last call that no transition will start."""


class Forward:
    """Deploying: a node may start once every node it requires is satisfied."""

    def __init__(self, preds: Sequence[Sequence[int]], succ: Sequence[Sequence[int]],
                 satisfied: Sequence[bool], todo: Sequence[bool],
                 rollout: Rollout | None = None, nodes: Sequence[Node] = (),
                 failed: Sequence[int] = ()) -> None:
        self.succ, self.todo = succ, todo
        self.missing = [sum(1 for p in ps if not satisfied[p]) for ps in preds]
        self.rollout, self.nodes = rollout, nodes
        self.settled = {i for i, done in enumerate(satisfied) if done}
        #: (node, waiter) edges a member given up no longer holds.
        self.let_go: set[tuple[int, int]] = set()
        #: Failed nodes (found failed by a resumed run) whose policy applies after all.
        self.beyond_budget = [i for i in failed if self._released(i) is None]

    def initial(self) -> list[int]:
        """Nodes to do that wait for nothing."""
        return [i for i, m in enumerate(self.missing) if m == 0 and self._go(i)]

    def completed(self, node: int) -> list[int]:
        """Record that ``node`` is satisfied; return the nodes that became ready."""
        ready = []
        self.settled.add(node)
        missing, let_go = self.missing, self.let_go
        for s in self.succ[node]:
            if let_go and (node, s) in let_go:
                continue  # already let go when its member failed
            missing[s] -= 1
            if missing[s] == 0 and self._go(s):
                ready.append(s)
        return ready

    def _go(self, i: int) -> bool:
        """Whether node ``i``, its requirements met, may start: it is to do."""
        return self.todo[i]

    def skipped(self, node: int) -> list[int]:
        """A node passed over satisfies what requires it, like one reached."""
        return self.completed(node)

    def failed(self, node: int) -> list[int] | None:
        """A failure within its rollout's budget: the nodes no longer waiting for its
        member that became ready; else None (its policy applies)."""
        released = self._released(node)
        if released is None:
            return None
        return [s for s in dict.fromkeys(released) if self.missing[s] == 0 and self._go(s)]

    def _released(self, node: int) -> list[int] | None:
        """Take the rollout budget for ``node``'s member and let its waiters go: the
        waiters, or None when no budget covers it."""
        if self.rollout is None:
            return None
        edges = self.rollout.give_up(self.nodes[node])
        if edges is None:
            return None
        for source, waiter in edges:
            if source not in self.settled and (source, waiter) not in self.let_go:
                self.let_go.add((source, waiter))
                self.missing[waiter] -= 1
        return [waiter for _, waiter in edges]

    def passed_over(self) -> list[int]:
        """Every node runs once its requirements are met: none is passed over."""
        return []


class Reverse(Forward):
    """Rolling back: a node is undone only after every node requiring it is undone."""

    def __init__(self, preds: Sequence[Sequence[int]], succ: Sequence[Sequence[int]],
                 todo: Sequence[bool]) -> None:
        self.preds, self.todo = preds, todo
        self.missing = [sum(1 for s in ss if todo[s]) for ss in succ]

    def completed(self, node: int) -> list[int]:
        """Record that ``node`` is undone; return the nodes that became ready to undo."""
        ready = []
        for p in self.preds[node]:
            if self.todo[p]:
                self.missing[p] -= 1
                if self.missing[p] == 0:
                    ready.append(p)
        return ready


#: How a node ended, as its transitions read it.
SUCCESS, ERROR, NONE = "success", "error", "none"
_FIRES = {"on_success": (SUCCESS,), "on_error": (ERROR,), "on_complete": (SUCCESS, ERROR)}


def handles_failure(node: Node) -> bool:
    """Whether a failure of ``node`` starts a branch of its direct flow (then its
    ``on_failure`` policy does not apply)."""
    return bool(node.on_error or node.on_complete)


class Direct(Forward):
    """Deploying a graph with direct flows: ``requires`` still gate every node (all of
    them must be satisfied), and a node that transitions reach runs only once one of them
    fires (``join: all``: once all of them have). A node whose transitions have all
    been decided without starting it is passed over.

    Built from the journal, so a resumed run decides the transitions its nodes' recorded
    outcomes fired, exactly as the run that recorded them did.
    """

    def __init__(self, nodes: Sequence[Node], ids: dict[str, int],
                 requires: Sequence[Sequence[int]], satisfied: Sequence[bool],
                 todo: Sequence[bool], statuses: Sequence[str], ran: Sequence[bool]) -> None:
        super().__init__(requires, successors(requires), satisfied, todo)
        self.nodes = nodes
        #: Per node: (target, on which outcomes it fires) for each transition out of it.
        self.moves: list[list[tuple[int, tuple[str, ...]]]] = [[] for _ in nodes]
        self.incoming = [0] * len(nodes)
        for i, node in enumerate(nodes):
            for key, fires in _FIRES.items():
                for name in getattr(node, key):
                    j = ids[name]
                    self.moves[i].append((j, fires))
                    self.incoming[j] += 1
        self.undecided = list(self.incoming)
        self.fired = [0] * len(nodes)
        self._passed: list[int] = []
        self._ready: list[int] = []
        for i, status in enumerate(statuses):
            if satisfied[i]:
                self._decide(i, SUCCESS if ran[i] else NONE)
            elif status == NodeState.FAILED and handles_failure(nodes[i]):
                self._decide(i, ERROR)
        self._ready.clear()  # initial() finds them again

    def completed(self, node: int) -> list[int]:
        """``node`` succeeded: what requires it, and its on_success/on_complete states."""
        return self._gated(super().completed(node), node, SUCCESS)

    def skipped(self, node: int) -> list[int]:
        """``node`` was passed over: what requires it proceeds; its transitions fire none."""
        return self._gated(super().completed(node), node, NONE)

    def failed(self, node: int) -> list[int] | None:
        """``node`` failed: its on_error/on_complete states start (None if it has none)."""
        if not handles_failure(self.nodes[node]):
            return None
        return self._gated([], node, ERROR)

    def passed_over(self) -> list[int]:
        """Nodes no transition will start any more, found since the last call."""
        out, self._passed = self._passed, []
        return out

    def _gated(self, ready: list[int], node: int, outcome: str) -> list[int]:
        self._decide(node, outcome)
        ready += [j for j in self._ready if self.missing[j] == 0]
        self._ready.clear()
        return ready

    def _go(self, i: int) -> bool:
        """Whether node ``i`` is to do and its transitions (if any) let it start; initial()
        and completed() of :class:`Forward` ask it."""
        if not self.todo[i]:
            return False
        if not self.incoming[i]:
            return True
        if self.nodes[i].join == "all":
            return self.fired[i] == self.incoming[i]
        return self.fired[i] > 0

    def _decide(self, node: int, outcome: str) -> None:
        for j, fires in self.moves[node]:
            self.undecided[j] -= 1
            if outcome in fires:
                self.fired[j] += 1
                starts = self.fired[j] == (self.incoming[j] if self.nodes[j].join == "all"
                                           else 1)
                if starts and self.todo[j]:
                    self._ready.append(j)
            elif self.undecided[j] == 0 and self.todo[j] and not self._go(j) \
                    and j not in self._passed:
                self._passed.append(j)
            elif self.nodes[j].join == "all" and self.todo[j] and j not in self._passed:
                self._passed.append(j)  # one of its transitions will never fire


def ran(status: str, attempt: int) -> bool:
    """Whether a satisfied node ran (reached, or its check passed), rather than being
    passed over (skipped without an attempt)."""
    return status in SATISFIED and not (status == NodeState.SKIPPED and attempt == 0)


class Rollout:
    """The failure budgets of entities rolled out in batches (``serial`` with
    ``max_failures``): a member that fails within its entity's budget stops there, and
    the next batch no longer waits for it. Shared by :class:`Forward` runs."""

    def __init__(self, nodes: Sequence[Node], ids: dict[str, int]) -> None:
        self.budget: dict[str, int] = {}
        #: Member (entity instance) -> the node indices of its states.
        self.members: dict[str, list[int]] = {}
        #: Node -> the nodes whose batch waits for it (their ``after_batch``).
        self.waiting: dict[int, list[int]] = {}
        for i, node in enumerate(nodes):
            if node.max_failures is None:
                continue
            self.budget.setdefault(node.group, node.max_failures)
            self.members.setdefault(node.instance, []).append(i)
            for name in node.after_batch:
                self.waiting.setdefault(ids[name], []).append(i)
        self.given_up: set[str] = set()

    def give_up(self, node: Node) -> list[tuple[int, int]] | None:
        """``node`` failed: the (state of its member, waiter) edges that no longer hold if
        the budget of its entity allows one more failed member, else None (its policy
        applies)."""
        if node.max_failures is None:
            return None
        if node.instance in self.given_up:
            return []
        if self.budget[node.group] <= 0:
            return None
        self.budget[node.group] -= 1
        self.given_up.add(node.instance)
        return [(i, w) for i in self.members[node.instance] for w in self.waiting.get(i, [])]
