"""State machines for nodes and deployments, built from :mod:`murano_flow.states`.

One ``transitions.Machine`` per kind defines and validates each lifecycle. Records
are *not* attached with ``Machine.add_model``: that call is O(number of models)
and binds a dozen methods per model, which makes a 50,000-node deployment
quadratic.

Deployments (a handful of moves each) are fired through the machine itself. Nodes
are fired through a lookup table compiled from the node machine's events: a
``transitions`` trigger costs about 10 µs (event data, callbacks, debug logging),
two per node, which alone was a quarter of the engine's cost per node. The table
holds exactly the machine's moves (``tests/test_lifecycle.py`` checks every state
and event against the machine), so an illegal move still raises. Only the engine
thread fires events, so no lock is needed.
"""

from __future__ import annotations

from typing import Any, Protocol

from transitions import Machine, MachineError

from .errors import TransitionError
from .states import DEPLOYMENT_TRANSITIONS, NODE_TRANSITIONS, DeploymentState, NodeState


class NodeLike(Protocol):
    """A node: a plain string ``status`` and a name for error messages."""

    status: str
    name: str


class DeploymentLike(Protocol):
    """A deployment: a plain string ``state`` and an id."""

    state: str
    id: str


def _machine(states: type[NodeState] | type[DeploymentState], table: tuple[Any, ...], attr: str
             ) -> Machine:
    def plain(src: str | list[str]) -> str | list[str]:
        return [str(s) for s in src] if isinstance(src, list) else str(src)

    transitions = [{"source": plain(s), "trigger": e, "dest": str(d)} for s, e, d in table]
    return Machine(
        model=None,
        states=[s.value for s in states],
        transitions=transitions,
        initial=states("pending").value,
        auto_transitions=False,
        model_attribute=attr,
    )


def compile_moves(machine: Machine) -> dict[tuple[str, str], str]:
    """(source state, event) -> destination, for every move ``machine`` allows."""
    moves: dict[tuple[str, str], str] = {}
    for name, event in machine.events.items():
        for source, transitions in event.transitions.items():
            assert len(transitions) == 1 and not transitions[0].conditions  # no guards here
            moves[(source, name)] = str(transitions[0].dest)
    return moves


NODE_MACHINE = _machine(NodeState, NODE_TRANSITIONS, "status")
DEPLOYMENT_MACHINE = _machine(DeploymentState, DEPLOYMENT_TRANSITIONS, "state")
_NODE_MOVES = compile_moves(NODE_MACHINE)


def fire_node(node: NodeLike, event: str) -> str:
    """Move ``node.status`` by ``event``; return the new status or raise TransitionError."""
    dest = _NODE_MOVES.get((node.status, event))
    if dest is None:
        raise TransitionError(node.name, node.status, event)
    node.status = dest
    return dest


def fire_deployment(deployment: DeploymentLike, event: str) -> str:
    """Move ``deployment.state`` by ``event``; return it or raise TransitionError."""
    try:
        DEPLOYMENT_MACHINE.events[event].trigger(deployment)
    except (MachineError, KeyError) as exc:
        raise TransitionError(deployment.id, deployment.state, event) from exc
    return deployment.state


def allowed(kind: str, state: str, event: str) -> bool:
    """Whether ``event`` is legal from ``state`` for ``kind`` ('node' or 'deployment')."""
    machine = NODE_MACHINE if kind == "node" else DEPLOYMENT_MACHINE
    ev = machine.events.get(event)
    return ev is not None and state in ev.transitions
