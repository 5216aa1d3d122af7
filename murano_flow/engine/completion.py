"""Completion and failure policy: what an outcome does to its node and to the run.

An outcome is one of: satisfied (its check passed), reached or undone, failed (retried
by its state's retry policy, else failed and its ``on_failure`` applied), or in doubt -
nobody knows how it ended, so its node keeps its plan id for a later run to ask again,
and is never retried, failed nor rolled back over. Owns the failure side of the run's
:class:`~.run.Brakes` (``stopping``, ``rollback_due``, ``infrastructure``).
"""

from __future__ import annotations

import heapq
import logging
import time

from ..blueprint.spec import RetryPolicy
from ..faults import crash_point
from ..states import NodeState
from ..store.base import NodeRecord
from .executor import Outcome
from .run import IN_FLIGHT, Run

log = logging.getLogger(__name__)

class Completer:
    """Applies outcomes to a run's nodes (the engine thread's only writer of failures)."""

    def complete(self, run: Run, batch: list[Outcome]) -> list[int]:
        """Apply a batch of outcomes; the nodes now satisfied (or undone), whose
        dependents the loop releases next."""
        # No commit here: nothing that depends on these completions can leave the process
        # before the dispatcher commits them together with the next 'running' rows.
        done = [out.index for out in batch if self.analyze(run, out)]
        crash_point("engine.completed")
        return done

    def analyze(self, run: Run, out: Outcome) -> bool:
        """Apply one outcome; True when its node is now satisfied (or undone)."""
        i = out.index
        key = run.work.busy.pop(i)
        run.work.inflight.discard(i)
        if run.work.queues.get(key):
            run.work.runnable.append(key)
        rec, node = run.records[i], run.graph.nodes[i]
        res = out.result
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: %s%s", node.name, out.kind if res is None else
                      f"exit {res.exit_code}", " (check passed)" if out.satisfied else "")
        if out.kind == "in_doubt" or (res is not None and res.lost):
            # Nobody knows how it ended (a host that lost the run knows it started): kept
            # in doubt for a later run to ask again; only the operator runs it afresh.
            self.doubt(run, i, out.error if res is None else res.message)
            return False
        if res is not None:
            rec.exit_code, rec.log_dir = res.exit_code, res.log_dir
            rec.stdout_tail = run.masker.text(res.stdout_tail)
            rec.stderr_tail = run.masker.text(res.stderr_tail)
        rec.finished = time.time()
        if res is not None and res.ok and not run.reverse:
            # a state that waited keeps its event's data; what its action publishes is added
            waited = run.outputs[i] or {}
            published = {**waited, **res.outputs} if node.wait else dict(res.outputs)
            missing = [o for o in node.outputs if o not in published] if node.outputs else ()
            if missing:
                who = "check passed but" if out.satisfied else "the action"
                self.failed(run, i, f"{who} did not publish declared outputs: "
                                    f"{', '.join(missing)}")
                return False
            # Nothing published over nothing: skipped here, not in Run.publish, whose other
            # caller (waits) relies on it to journal the row; the move below journals this one.
            if published or rec.outputs or run.outputs[i] != {}:
                run.publish(i, published)
        if out.satisfied:
            run.node(rec, "satisfy", "skipped", "check passed: in place, its action not run")
        elif res is not None and res.ok:
            if run.reverse:
                run.node(rec, "undone", "undone", "undo succeeded")
            else:
                run.node(rec, "reach", "reached", f"done in {_took(rec)}")
        else:
            run.brakes.infrastructure |= out.failure_kind == "unreachable"
            self._retry_or_fail(run, i, out)
            return False
        return True

    def _retry_or_fail(self, run: Run, i: int, out: Outcome) -> None:
        rec, node = run.records[i], run.graph.nodes[i]
        reason = out.describe()
        spec = node.undo if run.reverse else node.action
        policy = spec.retries if spec else RetryPolicy()
        refusal = policy.refusal(rec.tries, out.failure_kind, rec.exit_code)
        if not refusal and not run.brakes.stopping and not run.brakes.killing:
            delay = policy.delay_for(rec.tries)
            rec.reason = run.masker.text(reason)
            run.dirty[i] = rec
            run.event("retrying", rec,
                      f"{reason}; try {rec.tries + 1} of {policy.count + 1} in {delay:.1f}s")
            heapq.heappush(run.work.retries, (time.monotonic() + delay, i))
            return
        if refusal and policy.count:  # a state without retries needs no "why not"
            reason = f"{reason} ({refusal})"
        self.failed(run, i, reason)

    def doubt(self, run: Run, i: int, why: str) -> None:
        """Node ``i``'s outcome is unknown: kept in doubt with its plan id, never retried
        nor failed; no new work starts unless its on_failure says continue, and nothing
        is rolled back because of it."""
        rec = run.records[i]
        rec.reason = run.masker.text(why)
        if rec.status == NodeState.IN_DOUBT:
            run.dirty[i] = rec
            run.event("in_doubt", rec, why)
        else:
            run.node(rec, "doubt", "in_doubt", why)
        run.brakes.infrastructure = True
        if (run.graph.nodes[i].on_failure or run.brakes.on_failure) != "continue":
            run.brakes.stopping = run.brakes.stopping or f"{rec.name} is in doubt: {rec.reason}"

    def failed(self, run: Run, i: int, reason: str) -> None:
        """Node ``i`` failed for ``reason`` (or, stopped on purpose, goes back to be run
        again); a forward failure applies its policy."""
        rec = run.records[i]
        if run.brakes.killing and rec.status in IN_FLIGHT:  # we stopped it: it runs again later
            run.node(rec, "interrupt", "interrupted", f"{reason}; will run again")
            if run.brakes.halt == "pause":
                run.brakes.parked.append(i)
            return
        if run.brakes.expired and rec.status in IN_FLIGHT:
            reason = f"stopped at the deployment's deadline: {reason}"
        event, status = ("undo_fail", "undo_failed") if run.reverse else ("fail", "failed")
        rec.reason = run.masker.text(reason)
        run.node(rec, event, status, reason)
        if run.reverse:
            return
        branch = run.flow.failed(i) if run.flow is not None else None
        if branch is None:
            self.apply_policy(run, i)
        elif run.graph.nodes[i].direct:  # a direct flow handles it: its error branch runs
            run.note(f"{rec.name} failed: its on_error/on_complete states run")
            run.work.unblocked.extend(branch)
        else:  # a rollout's budget covers it: its member stops, the next batch goes on
            run.note(f"{rec.name} failed: {rec.instance} stops there, within its rollout's "
                     f"max_failures ({run.graph.nodes[i].max_failures}); the next batch "
                     "goes on without it")
            run.work.unblocked.extend(branch)

    def apply_policy(self, run: Run, i: int) -> None:
        """What node ``i``'s failure does to the rest: its on_failure, or the deployment's."""
        rec = run.records[i]
        policy = run.graph.nodes[i].on_failure or run.brakes.on_failure
        run.brakes.rollback_due |= policy == "rollback"
        if policy != "continue":
            run.brakes.stopping = run.brakes.stopping or f"{rec.name} failed: {rec.reason}"

    def due_retries(self, run: Run) -> list[int]:
        """Retries that fell due, to be placed again at the front of their hosts' queues;
        with the run stopping, they fail instead."""
        now, due = time.monotonic(), []
        while run.work.retries and (run.brakes.stopping or run.work.retries[0][0] <= now):
            _, i = heapq.heappop(run.work.retries)
            if run.brakes.stopping:
                self.failed(run, i, f"{run.records[i].reason}; not retried: "
                                    f"{run.brakes.stopping}")
                continue
            due.append(i)
        return due


def _took(rec: NodeRecord) -> str:
    return f"{(rec.finished or 0) - (rec.started or 0):.2f}s"
