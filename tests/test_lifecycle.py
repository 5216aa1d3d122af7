"""Node and deployment state machines: the tables allow exactly the intended moves."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from murano_flow.errors import TransitionError
from murano_flow.lifecycle import allowed, fire_deployment, fire_node
from murano_flow.states import NODE_TRANSITIONS, DeploymentState, NodeState


@dataclass
class Node:
    name: str = "web[0].Installed"
    status: str = "pending"


@dataclass
class Deployment:
    id: str = "d1"
    state: str = "pending"


def test_happy_path_and_rollback():
    node = Node()
    assert [fire_node(node, e) for e in ("start", "retry", "reach", "undo", "undone")] == [
        "running", "running", "reached", "undoing", "undone"]


def test_illegal_moves_raise_with_context():
    node = Node(status="reached")
    with pytest.raises(TransitionError) as info:
        fire_node(node, "start")
    assert info.value.subject == "web[0].Installed" and info.value.state == "reached"
    assert node.status == "reached"  # unchanged
    with pytest.raises(TransitionError):
        fire_node(Node(), "no-such-event")


def test_pending_node_cannot_be_reached_without_running():
    with pytest.raises(TransitionError):
        fire_node(Node(), "reach")


def test_interrupted_running_node_goes_back_to_pending():
    node = Node(status="running")
    assert fire_node(node, "interrupt") == "pending"


def test_every_table_state_is_a_known_state():
    known = {s.value for s in NodeState}
    for source, _event, dest in NODE_TRANSITIONS:
        sources = source if isinstance(source, list) else [source]
        assert {str(s) for s in sources} | {str(dest)} <= known


def test_deployment_lifecycle():
    dep = Deployment()
    assert fire_deployment(dep, "start") == "running"
    assert fire_deployment(dep, "fail") == "failed"
    assert fire_deployment(dep, "start") == "running"  # resume after a fix
    assert fire_deployment(dep, "interrupt") == "interrupted"
    assert fire_deployment(dep, "rollback") == "rolling_back"
    assert fire_deployment(dep, "rolled_back") == DeploymentState.ROLLED_BACK
    assert fire_deployment(dep, "start") == "running"  # deploy again: converge
    assert fire_deployment(dep, "pause") == "paused"
    assert fire_deployment(dep, "start") == "running"  # resumed
    assert fire_deployment(dep, "cancel") == "cancelled"
    assert fire_deployment(dep, "start") == "running"  # a cancelled deployment can continue
    with pytest.raises(TransitionError):
        fire_deployment(Deployment(state="succeeded"), "pause")
    with pytest.raises(TransitionError):
        fire_deployment(Deployment(state="rolling_back"), "pause")


def test_allowed_answers_without_changing_anything():
    assert allowed("node", "reached", "undo")
    assert not allowed("node", "pending", "reach")
    assert allowed("deployment", "interrupted", "start")


def test_compiled_node_moves_match_the_transitions_machine_exactly():
    from transitions import MachineError

    from murano_flow.lifecycle import NODE_MACHINE

    events = list(NODE_MACHINE.events)
    for state in NodeState:
        for event in events:
            via_machine = Node(status=state.value)
            try:
                NODE_MACHINE.events[event].trigger(via_machine)
                expected = via_machine.status
            except MachineError:
                expected = None
            compiled = Node(status=state.value)
            try:
                got = fire_node(compiled, event)
            except TransitionError:
                got = None
            assert got == expected, (state, event)
