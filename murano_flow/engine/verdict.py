"""How a run ends: the deployment's final move, journaled, and the verdict returned.

A run *returns* why it stopped - the deployment as journaled, whether it was interrupted
or handed over, whether a host was out of reach, which states are in doubt - so that its
callers (the application layer, an engine service) never read it off the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..states import ROLLED_BACK_AFTER, SATISFIED, DeploymentState, NodeState
from ..store.base import DeploymentRecord
from .resolver import handles_failure
from .run import IN_FLIGHT, Run, failures, in_doubt

#: Node states left behind in a rollback that did not finish.
NOT_UNDONE = frozenset({*SATISFIED, NodeState.FAILED, NodeState.UNDO_FAILED, *IN_FLIGHT,
                        NodeState.IN_DOUBT})


@dataclass(frozen=True)
class Verdict:
    """What a run of a deployment came to."""

    deployment: DeploymentRecord
    #: Stopped by Ctrl-C / SIGTERM, or handed over: state saved, resumable.
    interrupted: bool = False
    #: A host, transport or broker was unreachable, or an outcome is unknown.
    infrastructure: bool = False
    #: Released for another engine to re-attach to what still runs.
    handed_over: bool = False
    #: States whose outcome is unknown (a later run asks for them by plan id).
    in_doubt: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """The deployment's id."""
        return self.deployment.id

    @property
    def reason(self) -> str:
        """Why the deployment is in its state (the journal's one-line reason)."""
        return self.deployment.reason

    @property
    def state(self) -> str:
        """The deployment's state when the run ended (``DeploymentState``)."""
        return self.deployment.state


def conclude(run: Run) -> None:
    """Journal the deployment's final move for a run whose loop ended (not handed over)."""
    run.unqueue()
    brakes, dep_id = run.brakes, run.dep.id
    doubt = in_doubt(run.records, dep_id)
    # failures an error branch handled (their policy applies if the targets were missed)
    handled = _handled(run)
    if brakes.interrupted and run.dep.state == DeploymentState.ROLLING_BACK:
        # The way back is journaled: resume and rollback both continue it.
        run.note(f"interrupted while rolling back; 'murano-flow rollback {dep_id}' "
                 "(or resume) continues the rollback")
        run.flush()
    elif brakes.interrupted:
        run.deployment("interrupt", f"interrupted; run 'murano-flow resume {dep_id}' "
                                    "to continue or 'rollback' to undo")
    elif brakes.halt == "cancel":
        run.deployment("cancel", f"cancelled by the operator; 'murano-flow resume "
                                 f"{dep_id}' continues it, 'rollback' undoes it")
    elif doubt and not run.reverse:  # never rolled back over: it may have done its work
        run.deployment("fail", doubt)
    elif run.settle:
        run.note("collected the actions that were running")
        run.flush()
    elif run.retiring:
        left = [r for r in run.records if r.status in NOT_UNDONE]
        failed = [r for r in left if r.status == NodeState.UNDO_FAILED]
        if left:
            run.deployment("fail", doubt or (
                f"could not undo {failed[0].name}, which the blueprint no longer has: "
                f"{failed[0].reason}" if failed else f"{len(left)} dropped states not undone"))
        else:
            run.deployment("succeed", f"undid {len(run.records)} states the blueprint no "
                                      "longer has")
    elif run.reverse:
        _conclude_rollback(run, doubt)
    elif all(r.status in SATISFIED or r.name in handled for r in run.records):
        run.deployment("succeed", f"{len(run.records) - len(handled)} nodes reached" + (
            f"; {len(handled)} failed and their on_error branches took over"
            if handled else ""))
    elif brakes.rollback_due or "rollback" in handled.values():  # journaled before it starts
        cause = brakes.stopping or failures(run.records)
        run.deployment("rollback", f"{cause}; rolling back (on_failure: rollback)",
                       reason=cause)
    else:
        run.deployment("fail", brakes.stopping or failures(run.records))


def _handled(run: Run) -> dict[str, str]:
    """Failed nodes whose failure an error branch handled -> their failure policy."""
    return {r.name: node.on_failure or run.brakes.on_failure
            for r, node in zip(run.records, run.graph.nodes, strict=True)
            if r.status == NodeState.FAILED and handles_failure(node)}


def _conclude_rollback(run: Run, doubt: str) -> None:
    left = [r for r in run.records if r.status in NOT_UNDONE and r.intention == "revert"]
    failed = [r for r in left if r.status == NodeState.UNDO_FAILED]
    why = doubt or (f"undo failed: {failed[0].name}: {failed[0].reason}" if failed
                    else f"{len(left)} nodes were not undone")
    done = f"{ROLLED_BACK_AFTER}{run.cause}" if run.cause else "rolled back"
    run.deployment("fail" if left else "rolled_back", why if left else done)


def verdict(run: Run, dep: DeploymentRecord, *, handed_over: bool = False) -> Verdict:
    """The verdict of ``run``, whose deployment now reads ``dep`` in the journal."""
    return Verdict(dep, interrupted=run.brakes.interrupted or handed_over,
                   infrastructure=run.brakes.infrastructure, handed_over=handed_over,
                   in_doubt=tuple(r.name for r in run.records
                                  if r.status == NodeState.IN_DOUBT))
