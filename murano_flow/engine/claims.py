"""Which engine drives a deployment: claiming it in the journal, its lease, letting it go.

A claim is a compare-and-set on the deployment row's owner, with a lease that the
engine keeps renewing (:mod:`.lease`) and that fences every commit of the run. Claiming
also checks that the deployment is still in the state the caller decided on: an
operator's request that landed in between (a cancel) is honoured, never overridden.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import UsageError
from ..states import NodeState
from ..store.base import DeploymentRecord, NodeRecord, Store
from . import identity
from .lease import Leases
from .share import FairShare


class Claims:
    """One engine's claims on the deployments it drives."""

    def __init__(self, store: Store, me: str, leases: Leases, *, own_leases: bool,
                 share: FairShare | None) -> None:
        self.store, self.me, self.leases = store, me, leases
        self.own_leases, self.share = own_leases, share

    def claim(self, dep: DeploymentRecord) -> None:
        """Become ``dep``'s owner, with a lease.

        Raises:
            UsageError: a live engine drives it, or another one took it just now.
        """
        if dep.owner != self.me and identity.driving(dep):
            raise UsageError(
                f"deployment {dep.id} is being driven by the engine "
                f"{identity.describe(dep.owner)}",
                hint=f"'murano-flow status {dep.id}' shows its progress; 'murano-flow pause' "
                     "or 'cancel' asks that engine to stop")
        if not self.store.claim(dep.id, self.me, dep.owner, ttl=self.leases.ttl):
            raise UsageError(f"another engine took deployment {dep.id} just now")

    def claim_unchanged(self, deployment_id: str, seen: str | None) -> DeploymentRecord:
        """Claim the deployment, and check that it is still in the state that was decided
        on (``seen``, else the one read just before the claim). The record returned
        names, as its owner, the engine that drove it before (for re-attach).

        Raises:
            UsageError: it cannot be claimed, or its state changed meanwhile.
        """
        before = self.store.deployment(deployment_id)
        self.claim(before)
        dep = self.store.deployment(deployment_id)
        expected = before.state if seen is None else seen
        if dep.state != expected:
            self.unclaim(dep.id)
            raise UsageError(f"deployment {dep.id} became '{dep.state}' just now"
                             + (f" ({dep.reason})" if dep.reason else "") + "; nothing was done",
                             hint="run the command again if you still want it")
        return replace(dep, owner=before.owner)

    def unclaim(self, deployment_id: str) -> None:
        """Give up a claim that drove nothing (its request to engine services stays)."""
        self.store.claim(deployment_id, "", self.me)
        self.leases.drop(deployment_id)

    def release(self, deployment_id: str, *, handover: bool = False) -> None:
        """Let the deployment go; its request to engine services is answered unless it
        is handed over to another one."""
        self.let_go(deployment_id)
        self.store.claim(deployment_id, "", self.me, request=None if handover else "")

    def let_go(self, deployment_id: str) -> None:
        """Stop renewing the lease (the journal row is left as it is)."""
        self.leases.drop(deployment_id)
        if self.own_leases and not self.leases.held():
            self.leases.close()
        if self.share is not None:
            self.share.leave(deployment_id)


def check_rerun(dep_id: str, name: str, rec: NodeRecord | None, *, reverse: bool) -> None:
    """UsageError unless ``rec`` may be run afresh on the operator's word: a state in doubt,
    and in a rollback only an undo in doubt."""
    if rec is not None and rec.status == NodeState.IN_DOUBT and (
            not reverse or rec.intention == "revert"):
        return
    why = ("no such state" if rec is None else
           f"it is {rec.status}, not in doubt" if rec.status != NodeState.IN_DOUBT
           else "its action is in doubt, and a rollback runs only undos afresh "
                f"('resume {dep_id} --rerun {name}' runs the action)")
    raise UsageError(f"--rerun {name}: {why}", hint=f"only a state in doubt runs again this "
                     f"way; 'murano-flow status {dep_id} --nodes' shows each state's status")


def doubted(rec: NodeRecord, intention: str) -> bool:
    """Whether ``rec`` is in doubt about an action ('execute') or an undo ('revert')."""
    return rec.status == NodeState.IN_DOUBT and rec.intention == intention
