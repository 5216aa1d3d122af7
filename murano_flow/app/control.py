"""Use cases that steer a deployment from anywhere: cancel, pause, and signals to states
that wait for one.

Requests to a live engine go through the journal (the deployment row's ``control``
column), which that engine reads every half second: nothing else needs to reach it, so
the same works when it runs detached or on another machine. A deployment no engine
drives is cancelled here, under a claim, so that no engine starts it meanwhile.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..blueprint.schema import suggest
from ..engine import identity
from ..engine.waits import data_problem
from ..errors import UsageError
from ..lifecycle import allowed, fire_deployment
from ..states import ACTIVE
from ..store.base import DeploymentRecord, Event, Signal, Store
from .settings import journaled_blueprint

#: How long waiting for a request to be honoured waits at most.
WAIT_LIMIT = 3600.0
#: Seconds between two looks at the journal while waiting for it.
WAIT_POLL = 0.2


@dataclass(frozen=True)
class Asked:
    """A request written for the live engine driving ``deployment``; ``goal`` is the state
    it reports once it has done it."""

    deployment: DeploymentRecord
    what: str
    now: bool
    goal: str


@dataclass(frozen=True)
class Sent:
    """A signal journaled in the deployment's inbox as entry ``seq``."""

    seq: int
    deployment: DeploymentRecord
    node: str
    node_status: str
    live: bool


def cancel(store: Store, deployment: str, *, now: bool = False) -> Asked | DeploymentRecord:
    """Give up on a deployment: the live engine driving it is asked to (nothing new
    starts; running actions finish, or with ``now`` are stopped); one that no engine
    drives is cancelled at once, and its record is returned.

    Raises:
        UsageError: it cannot be cancelled in its state, or an engine took it just now.
    """
    dep = store.deployment(deployment)
    if identity.driving(dep):
        return _ask(store, dep, "cancel", now, "cancelled")
    if not allowed("deployment", dep.state, "cancel"):
        raise UsageError(f"deployment {dep.id} is '{dep.state}': nothing to cancel")
    me = identity.me()  # hold the claim while writing: no engine may start it meanwhile
    if not store.claim(dep.id, me, dep.owner):
        raise UsageError(f"an engine took deployment {dep.id} just now",
                         hint="run the same cancel again: it will ask that engine")
    try:
        fire_deployment(dep, "cancel")
        message = "cancelled by the operator (no engine was driving it)"
        store.commit(dep.id, [], [Event(dep.id, time.time(), "deployment", status=dep.state,
                                        message=message)], state=dep.state, reason=message)
    finally:  # the request too: an engine service must not take it up afterwards
        store.claim(dep.id, "", me, request="")
    return store.deployment(dep.id)


def pause(store: Store, deployment: str, *, now: bool = False) -> Asked:
    """Ask the live engine driving a deployment to pause it (resume continues it).

    Raises:
        UsageError: it is rolling back (a rollback is not paused) or no engine drives it.
    """
    dep = store.deployment(deployment)
    if dep.state == "rolling_back":
        raise UsageError(f"deployment {dep.id} is rolling back: a rollback cannot be "
                         "paused", hint=f"'murano-flow cancel {dep.id}' stops it")
    if not identity.driving(dep):
        raise UsageError(f"no engine is driving deployment {dep.id} ('{dep.state}'): "
                         "it is not running", hint=f"'murano-flow status {dep.id}'")
    return _ask(store, dep, "pause", now, "paused")


def honoured(store: Store, asked: Asked, *, limit: float = WAIT_LIMIT) -> DeploymentRecord:
    """Wait until the engine has done what it was asked (or the deployment ended).

    Raises:
        UsageError: the engine went away first, or ``limit`` seconds passed.
    """
    dep_id, goal = asked.deployment.id, asked.goal
    until = time.monotonic() + limit
    while time.monotonic() < until:
        dep = store.deployment(dep_id)
        if dep.state not in ACTIVE or dep.state == goal:
            return dep
        if not identity.driving(dep):
            raise UsageError(f"the engine driving {dep_id} is gone before it was {goal}",
                             hint=f"'murano-flow resume {dep_id}' or 'cancel {dep_id}'")
        time.sleep(WAIT_POLL)
    raise UsageError(f"{dep_id} is still '{dep.state}' after {limit:g} s")


def signal(store: Store, deployment: str, node: str, data: dict[str, Any], source: str
           ) -> Sent:
    """Journal a signal with ``data`` (the state's outputs to be) for state ``node``,
    which waits for one; one sent before the state starts waiting is kept until it does.

    Raises:
        UsageError: no such state, it does not (or no longer) wait for a signal, or the
            data lack its declared outputs.
    """
    dep = store.deployment(deployment)
    records = {n.name: n for n in store.nodes(dep.id)}
    if node not in records:
        raise UsageError(f"deployment {dep.id} has no state '{node}'{suggest(node, records)}",
                         hint=f"'murano-flow status {dep.id} --nodes' lists them")
    spec = journaled_blueprint(dep, {}, strict=False).nodes[node]
    if spec.wait is None or spec.wait.kind != "signal":
        what = spec.wait.describe() if spec.wait else "nothing"
        raise UsageError(f"{node} does not wait for a signal (it waits for {what})")
    status = records[node].status
    if status not in ("pending", "waiting"):
        raise UsageError(f"{node} is {status}: it no longer waits for a signal",
                         hint=f"'murano-flow events {dep.id} --node {node}' shows its story")
    problem = data_problem(spec, data)
    if problem:
        raise UsageError(f"signal for {node}: {problem}")
    seq = store.add_signal(Signal(dep.id, node, time.time(), "signal", source, data))
    return Sent(seq, dep, node, status, identity.driving(dep))


def _ask(store: Store, dep: DeploymentRecord, what: str, now: bool, goal: str) -> Asked:
    store.set_control(dep.id, f"{what}:now" if now else what)
    return Asked(dep, what, now, goal)
