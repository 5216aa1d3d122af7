"""Node and deployment states, and the tables of moves allowed between them.

The tables are data: :mod:`murano_flow.lifecycle` feeds them to ``transitions``
so that an illegal move raises, and ``murano-flow`` can draw them.
"""

from __future__ import annotations

from enum import StrEnum


class NodeState(StrEnum):
    """Where one node (``entity.State``) of a deployment stands."""

    PENDING = "pending"
    WAITING = "waiting"
    RUNNING = "running"
    #: Its plan's outcome is unknown (silence, a lost broker, the engine stopping): its
    #: plan id is kept, and the next run asks the host for that plan's result.
    IN_DOUBT = "in_doubt"
    REACHED = "reached"
    SKIPPED = "skipped"
    FAILED = "failed"
    UNDOING = "undoing"
    UNDONE = "undone"
    UNDO_FAILED = "undo_failed"


class DeploymentState(StrEnum):
    """Where a whole deployment stands."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    PAUSED = "paused"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    CANCELLED = "cancelled"


#: States in which a node counts as reached by the nodes that require it.
SATISFIED = frozenset({NodeState.REACHED, NodeState.SKIPPED})

#: Node states whose plan may still be doing something on its host, or have ended there
#: unseen: the next run re-attaches to them by their plan id, never starting them afresh.
UNSETTLED = frozenset({NodeState.RUNNING, NodeState.UNDOING, NodeState.IN_DOUBT})

#: Deployment states in which an engine is (or was, until it died) driving it.
ACTIVE = frozenset({DeploymentState.RUNNING, DeploymentState.ROLLING_BACK,
                    DeploymentState.PAUSED})

#: Deployment states after which no engine is working on it.
FINISHED = frozenset(
    {
        DeploymentState.SUCCEEDED,
        DeploymentState.FAILED,
        DeploymentState.INTERRUPTED,
        DeploymentState.ROLLED_BACK,
        DeploymentState.CANCELLED,
    }
)

#: How the reason of a deployment rolled back after a failure begins (``on_failure:
#: rollback``), as opposed to a rollback an operator asked for ("rolled back").
ROLLED_BACK_AFTER = "rolled back after: "
#: Exit code for each final deployment state (DESIGN.md section 3).
EXIT_BY_STATE = {"succeeded": 0, "failed": 1, "rolled_back": 0, "cancelled": 1,
                 "interrupted": 130}


def recorded_exit_code(state: str, reason: str) -> int:
    """The exit code a finished deployment's journaled ``state`` and ``reason`` stand for,
    as the run that ended it gave it: 0 succeeded, or rolled back as asked; 1 failed,
    cancelled, or rolled back after a failure; 130 interrupted. (Whether a failure was the
    infrastructure's, exit code 3, only the run itself knows.)"""
    if state == DeploymentState.ROLLED_BACK:
        return 1 if reason.startswith(ROLLED_BACK_AFTER) else 0
    return EXIT_BY_STATE.get(state, 1)


N = NodeState
#: (source, event, dest) for nodes.
NODE_TRANSITIONS: tuple[tuple[str | list[str], str, str], ...] = (
    (N.PENDING, "wait", N.WAITING),  # its requirements are reached; it awaits its event
    ([N.PENDING, N.WAITING], "start", N.RUNNING),  # requirements (and event) are in: dispatched
    (N.WAITING, "fail", N.FAILED),  # its event did not come within the wait's timeout
    (N.RUNNING, "retry", N.RUNNING),  # an attempt failed and the retry policy allows another
    (N.RUNNING, "reach", N.REACHED),  # the action succeeded (or there was none)
    (N.RUNNING, "satisfy", N.SKIPPED),  # the check probe passed: nothing to do
    (N.PENDING, "pass", N.SKIPPED),  # passed over: its when is false, or no transition took it
    (N.RUNNING, "fail", N.FAILED),  # the last allowed attempt failed
    (N.RUNNING, "interrupt", N.PENDING),  # engine stopped, action killed: re-run on resume
    # nobody can tell how its plan ended (or whether it started): kept, never retried
    ([N.RUNNING, N.UNDOING], "doubt", N.IN_DOUBT),
    (N.IN_DOUBT, "collect", N.RUNNING),  # a later run asks again for the same plan id
    (N.IN_DOUBT, "collect_undo", N.UNDOING),  # the same, for an undo in doubt
    (N.IN_DOUBT, "rerun", N.PENDING),  # the operator's choice: run the action afresh
    (N.IN_DOUBT, "rerun_undo", N.REACHED),  # the operator's choice: undo afresh
    # deploy again after failure/undo; a wait given up (rolling back, or a drift fix upstream)
    ([N.FAILED, N.UNDO_FAILED, N.UNDONE, N.WAITING], "reset", N.PENDING),
    ([N.REACHED, N.SKIPPED], "redo", N.PENDING),  # re-deployed: inputs changed, or probe again
    ([N.REACHED, N.SKIPPED, N.FAILED, N.UNDO_FAILED], "undo", N.UNDOING),  # rollback starts
    (N.UNDOING, "retry", N.UNDOING),  # an undo attempt failed; its retry policy allows another
    (N.UNDOING, "undone", N.UNDONE),  # the undo action succeeded (or there was none)
    (N.UNDOING, "undo_fail", N.UNDO_FAILED),  # the undo action failed
    (N.UNDOING, "interrupt", N.REACHED),  # the engine stopped mid-undo; undo again on next rollback
)

D = DeploymentState
#: (source, event, dest) for deployments.
DEPLOYMENT_TRANSITIONS: tuple[tuple[str | list[str], str, str], ...] = (
    # deploy, resume, retry after failure, re-deploy (converge), un-pause, or take over the
    # run of an engine that died (running -> running: a crash never changes the direction);
    # from rolling_back only by an explicit re-deploy (resume continues the rollback)
    ([D.PENDING, D.FAILED, D.INTERRUPTED, D.CANCELLED, D.PAUSED, D.SUCCEEDED, D.ROLLED_BACK,
      D.RUNNING, D.ROLLING_BACK], "start", D.RUNNING),
    (D.RUNNING, "succeed", D.SUCCEEDED),  # every target reached
    (D.RUNNING, "fail", D.FAILED),  # a node failed and nothing more can run
    (D.RUNNING, "pause", D.PAUSED),  # operator: no new actions; running ones have finished
    # Ctrl-C / SIGTERM, or found running/rolling back after its engine died: state saved
    ([D.RUNNING, D.ROLLING_BACK, D.PAUSED], "interrupt", D.INTERRUPTED),
    # operator gave up on it: nothing more runs until it is resumed or rolled back
    ([D.PENDING, D.RUNNING, D.INTERRUPTED, D.PAUSED, D.ROLLING_BACK, D.FAILED], "cancel",
     D.CANCELLED),
    (
        [D.SUCCEEDED, D.FAILED, D.INTERRUPTED, D.CANCELLED, D.ROLLED_BACK, D.RUNNING, D.PAUSED,
         D.ROLLING_BACK],
        "rollback",
        D.ROLLING_BACK,
    ),  # undo what was done (after a failure with on_failure: rollback; or taking over)
    (D.ROLLING_BACK, "rolled_back", D.ROLLED_BACK),  # every undo ran
    (D.ROLLING_BACK, "fail", D.FAILED),  # an undo failed
)
del N, D
