"""Use cases that drive a deployment: deploy (a new one, or converge one that exists),
resume, rollback, and handing a deployment to the engine services.

Each decides what the command means for the deployment as the journal has it now, and
journals what it decided; none of them renders anything. What it returns says what
happens next: a :class:`Drive` to run in this process, a :class:`Submitted` deployment
that engine services (or a background engine) take, or a :class:`Requested` change that
the live engine driving it carries out.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..blueprint import Blueprint
from ..engine import DEFAULT_WORKERS, Engine, Verdict, identity, targeting
from ..errors import UsageError
from ..lifecycle import allowed
from ..states import ACTIVE, EXIT_BY_STATE
from ..store.base import DeploymentRecord, Event, Store
from ..store.sealing import seal
from ..transports.amqp import agent_secret
from .settings import Settings, exists, journaled_blueprint


@dataclass
class Drive:
    """A deployment this process drives: :meth:`run` it, :meth:`stop` it (from a signal
    handler). ``what`` is deploy, converge or rollback; ``notes`` what the caller should
    be told first (how the command was understood)."""

    engine: Engine
    bp: Blueprint
    dep: DeploymentRecord
    what: str
    rerun: tuple[str, ...] = ()
    seen: str | None = None
    notes: list[str] = field(default_factory=list)
    redo: tuple[str, ...] = ()
    limit: tuple[str, ...] | None = None

    def run(self, listener: Callable[[Event], None] | None = None) -> Verdict:
        """Drive it until it ends, is stopped or is handed over; the verdict says how."""
        self.engine.listener = listener
        if self.what == "rollback":
            return self.engine.rollback(self.bp, self.dep.id, rerun=self.rerun, seen=self.seen)
        return self.engine.deploy(self.bp, self.dep.id, converge=self.what == "converge",
                                  rerun=self.rerun, seen=self.seen, redo=self.redo,
                                  limit=self.limit)

    def stop(self) -> None:
        """Ask the run to stop cleanly (state saved, resumable); safe in a signal handler."""
        self.engine.request_stop()


@dataclass(frozen=True)
class Submitted:
    """Handed to the engine services (``engines`` of them run), or with none running to a
    background engine of its own (``engines`` 0)."""

    deployment: str
    engines: int


@dataclass(frozen=True)
class Requested:
    """The live engine driving the deployment was asked to carry the command out."""

    deployment: str
    message: str


def exit_code(verdict: Verdict, what: str) -> int:
    """The process exit code of a run that ended with ``verdict`` (DESIGN.md section 3):
    0 done, 1 failed or rolled back after a failure, 3 unreachable, 130 interrupted."""
    if verdict.interrupted:
        return 130
    code = EXIT_BY_STATE.get(verdict.state, 1)
    if what in ("deploy", "converge") and verdict.state == "rolled_back":
        code = 1
    if verdict.state == "failed" and verdict.infrastructure:
        code = 3
    return code


def deploy(settings: Settings, store: Store, bp: Blueprint, given: dict[str, Any], *,
           deployment_id: str | None = None, on_failure: str | None = None,
           deadline: float | None = None, force_new: bool = False, detach: bool = False,
           workers: int = DEFAULT_WORKERS, redo: tuple[str, ...] = (),
           with_dependents: bool = False, limit: tuple[str, ...] = (),
           stored: dict[str, Any] | None = None) -> Drive | Submitted:
    """Journal a new deployment of ``bp`` or, when ``deployment_id`` exists, ``bp`` as its
    new definition (converge: only what is new, changed or failing its check runs).
    ``stored`` says which stored blueprint version ``bp`` is (see :mod:`.library`).
    ``redo`` (patterns, see :mod:`~murano_flow.engine.targeting`) runs states in place
    again, with the states requiring them if ``with_dependents``; ``limit`` keeps the
    converge to the states it names.

    Raises:
        UsageError: an unfinished deployment of the same blueprint exists (unless
            ``force_new`` or an id is given), the deployment is driven elsewhere, or
            ``redo``/``limit`` do not apply (checked before anything is journaled).
    """
    source: dict[str, Any] = {"text": bp.text, "scripts": bp.scripts}
    if stored:
        source["stored"] = stored
    if detach:
        _seal_secrets(settings, bp, given, source)
    if not force_new and deployment_id is None:
        _refuse_if_unfinished(store, bp.name)
    engine = _engine(settings, store, workers)
    what = "converge" if deployment_id and exists(store, deployment_id) else "deploy"
    chosen, inside = chosen_states(store, bp, deployment_id if what == "converge" else None,
                              redo, with_dependents, limit, detach)
    if what == "converge":
        assert deployment_id is not None
        dep = engine.reshape(bp, deployment_id, source, on_failure=on_failure,
                             deadline=deadline)
    else:
        dep = engine.create(bp, deployment_id, source, on_failure=on_failure,
                            deadline=deadline)
    if detach:
        return submit(settings, store, dep.id, given, workers, what)
    return Drive(engine, bp, dep, what, redo=chosen, limit=inside)


def chosen_states(store: Store | None, bp: Blueprint, deployment_id: str | None,
                  redo: tuple[str, ...], with_dependents: bool, limit: tuple[str, ...],
                  detach: bool) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """The states ``redo`` runs again and those ``limit`` allows (None: no limit), as
    :func:`deploy` takes them; raises UsageError when they do not apply."""
    if not (redo or limit):
        if with_dependents:
            raise UsageError("--with-dependents goes with --redo STATE")
        return (), None
    option = "--redo" if redo else "--limit"
    if deployment_id is None or store is None:
        raise UsageError(f"{option} applies to a deployment in place: give its --id",
                         hint="murano-flow list shows the deployments")
    if detach:
        raise UsageError(f"{option} cannot be combined with --detach yet",
                         hint="run it in the foreground")
    records = store.nodes(deployment_id)
    chosen = targeting.redo_states(bp, records, redo, with_dependents) if redo else []
    inside = targeting.limited_states(bp, records, limit) if limit else None
    if inside is not None:
        outside = [n for n in chosen if n not in inside]
        if outside:
            raise UsageError(f"--redo {outside[0]} is outside --limit {' '.join(limit)}")
    return tuple(chosen), None if inside is None else tuple(inside)


def resume(settings: Settings, store: Store, deployment: str, given: dict[str, Any], *,
           workers: int = DEFAULT_WORKERS, deadline: float | None = None,
           converge: bool = False, detach: bool = False, rerun: tuple[str, ...] = ()
           ) -> Drive | Submitted | Requested:
    """Continue a deployment that was interrupted, paused, cancelled or failed, or whose
    engine died: a paused one driven by a live engine is resumed by that engine; one
    whose rollback stopped or failed goes on rolling back.

    Raises:
        UsageError: nothing to resume, driven by another live engine, or a bad ``rerun``.
    """
    return _continue(settings, store, deployment, given, workers,
                     "converge" if converge else "deploy", deadline, detach, rerun)


def rollback(settings: Settings, store: Store, deployment: str, given: dict[str, Any], *,
             workers: int = DEFAULT_WORKERS, detach: bool = False,
             rerun: tuple[str, ...] = ()) -> Drive | Submitted | Requested:
    """Undo a deployment: its undo actions in reverse dependency order.

    Raises:
        UsageError: nothing to roll back, or driven by another live engine.
    """
    return _continue(settings, store, deployment, given, workers, "rollback", None, detach,
                     rerun)


def submit(settings: Settings, store: Store, dep_id: str, given: dict[str, Any],
           workers: int, what: str) -> Submitted:
    """Ask the engine services to drive ``dep_id``; with none running, start an engine in
    the background for it (whichever comes first takes it: the lease decides)."""
    store.set_request(dep_id, what)
    engines = store.engines()
    if not engines:
        _spawn_background(settings, dep_id, given, workers, what)
    return Submitted(dep_id, len(engines))


def _continue(settings: Settings, store: Store, deployment: str, given: dict[str, Any],
              workers: int, what: str, deadline: float | None, detach: bool,
              rerun: tuple[str, ...]) -> Drive | Submitted | Requested:
    if rerun and detach:
        raise UsageError("--rerun cannot be combined with --detach yet",
                         hint="run it in the foreground; it can be detached afterwards")
    dep = store.deployment(deployment)
    live = identity.driving(dep)
    if live and what == "deploy" and dep.control.startswith("pause"):
        store.set_control(dep.id, "")
        return Requested(dep.id, f"resume requested; the engine {identity.describe(dep.owner)} "
                                 "that paused it continues it")
    if live:
        raise UsageError(f"deployment {dep.id} is being driven by the engine "
                         f"{identity.describe(dep.owner)}",
                         hint="'murano-flow pause' or 'cancel' asks it to stop")
    what, notes = _meaning(store, dep, what)
    if dep.state not in ACTIVE and what != "converge" and not _continuable(dep.state, what):
        raise UsageError(f"deployment {dep.id} is '{dep.state}': nothing to "
                         f"{'resume' if what == 'deploy' else 'roll back'}",
                         hint=f"'murano-flow status {dep.id}' shows where it stands"
                              + ("; deploy it again with 'murano-flow deploy BLUEPRINT "
                                 f"--id {dep.id}'" if what == "deploy" else ""))
    if deadline is not None:
        dep.settings["deadline"] = time.time() + deadline
        store.reshape(dep, store.nodes(dep.id), [])
    bp = journaled_blueprint(dep, given)
    if detach:
        if _seal_secrets(settings, bp, given, dep.source):
            store.reshape(dep, store.nodes(dep.id), [])
        return submit(settings, store, dep.id, given, workers, what)
    return Drive(_engine(settings, store, workers), bp, dep, what, rerun, seen=dep.state,
                 notes=notes)


def _meaning(store: Store, dep: DeploymentRecord, what: str) -> tuple[str, list[str]]:
    """What 'resume' means for ``dep`` as it stands: a rollback that its engine left
    unfinished, or that failed, goes on as a rollback."""
    if dep.state == "rolling_back":  # its engine died while undoing: finish that
        return "rollback", []
    if dep.state == "failed" and what == "deploy" and any(
            n.status == "undo_failed" or (n.status == "in_doubt" and n.intention == "revert")
            for n in store.nodes(dep.id)):
        return "rollback", [f"{dep.id}: its rollback failed; resume retries the rollback (to "
                            f"go forward instead: murano-flow deploy BLUEPRINT --id {dep.id})"]
    return what, []


def _continuable(state: str, what: str) -> bool:
    if what == "deploy":  # resume continues unfinished work; re-deploying converges
        return state in ("failed", "interrupted", "cancelled", "pending")
    return allowed("deployment", state, "rollback")


def _engine(settings: Settings, store: Store, workers: int) -> Engine:
    return Engine(store, settings.transports, workers=workers,
                  messages=settings.message_waits, secret=settings.secret())


def _seal_secrets(settings: Settings, bp: Blueprint, given: dict[str, Any],
                  source: dict[str, Any]) -> bool:
    """Put the secret parameters given into ``source``, sealed: an engine service elsewhere
    needs them, and they are never journaled in the clear. Whether there were any."""
    secret = {p.name: bp.values[p.name] for p in bp.parameters.values()
              if p.secret and p.name in given}
    if secret:
        source["sealed"] = seal(agent_secret(settings.home), secret)
    return bool(secret)


def _refuse_if_unfinished(store: Store, blueprint: str) -> None:
    """Say how to continue an unfinished deployment of the same blueprint, instead of
    starting a second one next to it."""
    for dep in store.deployments(1000):
        if dep.blueprint == blueprint and dep.state in (*ACTIVE, "interrupted"):
            live = identity.driving(dep)
            doing = (f"being driven by {identity.describe(dep.owner)}" if live
                     else f"{dep.state}, its engine stopped")
            raise UsageError(
                f"deployment {dep.id} of blueprint '{blueprint}' is unfinished ({doing})",
                hint=(f"'murano-flow status {dep.id}' shows its progress" if live else
                      f"continue it: murano-flow resume {dep.id}; undo it: murano-flow "
                      f"rollback {dep.id}") + "; or pass --new to start another one")


def _spawn_background(settings: Settings, dep_id: str, given: dict[str, Any],
                      workers: int, what: str) -> None:
    log_dir = settings.home / "engine"
    log_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "murano_flow", "--store", settings.store_url, "--home",
            str(settings.home), "rollback" if what == "rollback" else "resume", dep_id,
            "--workers", str(workers), "--params-file", "-",
            *(["--converge"] if what == "converge" else [])]
    with (log_dir / f"{dep_id}.log").open("ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=out,
                                start_new_session=True)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(given).encode())  # secrets travel by pipe, never argv
    proc.stdin.close()
