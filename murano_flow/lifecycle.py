"""State machines for nodes and deployments, built from :mod:`murano_flow.states`.

One ``transitions.Machine`` per kind, shared by every object of that kind. Objects
are *not* attached with ``Machine.add_model``: that call is O(number of models)
and binds a dozen methods per model, which makes a 50,000-node deployment
quadratic. Instead the shared machine's events are fired against any object with
a ``state`` attribute; ``transitions`` still checks every move against the table.
Only the engine thread fires events, so no lock is needed.
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


_NODE_MACHINE = _machine(NodeState, NODE_TRANSITIONS, "status")
_DEPLOYMENT_MACHINE = _machine(DeploymentState, DEPLOYMENT_TRANSITIONS, "state")


def _fire(machine: Machine, obj: object, event: str, subject: str) -> str:
    attr = machine.model_attribute
    try:
        machine.events[event].trigger(obj)
    except (MachineError, KeyError) as exc:
        raise TransitionError(subject, getattr(obj, attr), event) from exc
    return str(getattr(obj, attr))


def fire_node(node: NodeLike, event: str) -> str:
    """Move ``node.status`` by ``event``; return the new status or raise TransitionError."""
    return _fire(_NODE_MACHINE, node, event, node.name)


def fire_deployment(deployment: DeploymentLike, event: str) -> str:
    """Move ``deployment.state`` by ``event``; return it or raise TransitionError."""
    return _fire(_DEPLOYMENT_MACHINE, deployment, event, deployment.id)


def allowed(kind: str, state: str, event: str) -> bool:
    """Whether ``event`` is legal from ``state`` for ``kind`` ('node' or 'deployment')."""
    machine = _NODE_MACHINE if kind == "node" else _DEPLOYMENT_MACHINE
    ev = machine.events.get(event)
    return ev is not None and state in ev.transitions
