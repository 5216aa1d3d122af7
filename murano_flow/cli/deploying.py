"""``murano-flow deploy | resume | rollback``: what the application layer decided, driven
here with progress shown, or handed to the engine services."""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from ..app import deployments, dryrun
from ..app.deployments import Drive, Requested, Submitted, exit_code
from ..app.documents import deployment_dict, node_dict
from ..blueprint import Blueprint, load_blueprint
from ..engine import Verdict
from ..engine.engine import DEFAULT_WORKERS
from ..store.base import DeploymentRecord, Store
from .common import Settings, command, duration, format_option, given_params, params_options
from .progress import Dashboard, LinePrinter
from .render import RECAP_COLUMNS, console, emit, recap_counts, recap_rows, styled, table


@click.command()
@click.argument("blueprint", type=click.Path(dir_okay=False, allow_dash=True))
@params_options
@click.option("-w", "--workers", type=click.IntRange(1, 1024), default=DEFAULT_WORKERS,
              show_default=True, help="Actions running at once (one per host at a time).")
@click.option("--detach", is_flag=True,
              help="Hand it to the engine services (or, with none running, to a background "
                   "engine); print the deployment id.")
@click.option("--id", "deployment_id", help="Use this deployment id instead of a generated one.")
@click.option("--on-failure", type=click.Choice(["stop", "continue", "rollback"]),
              help="What a failed state does (default: the blueprint's on_failure, else stop).")
@click.option("--deadline", metavar="DURATION",
              help="Stop and fail the deployment if it is not done within this (e.g. 2h).")
@click.option("--new", "force_new", is_flag=True,
              help="Start a new deployment even if one of this blueprint is unfinished.")
@click.option("--redo", multiple=True, metavar="PATTERN",
              help="Run these states in place again though nothing changed (a rotated "
                   "secret): a state (web[0].Configured), an entity (web[0]), every member "
                   "(web) or a part; * matches any text. Repeatable; needs --id.")
@click.option("--with-dependents", is_flag=True,
              help="With --redo: run every state requiring those again too.")
@click.option("--limit", multiple=True, metavar="PATTERN",
              help="Re-converge only these states (patterns as --redo); every other must "
                   "be in place and is kept as it is. Repeatable; needs --id.")
@click.option("--dry-run", is_flag=True,
              help="Run nothing, journal nothing: say per state what this deploy would do "
                   "(run, probe, keep, undo) and why, with the inputs that changed. Exit 0 "
                   "when it would change nothing, 1 when it would.")
@format_option
@click.pass_obj
@command
def deploy(settings: Settings, blueprint: str, params: tuple[str, ...], params_file: str | None,
           workers: int, detach: bool, deployment_id: str | None, on_failure: str | None,
           deadline: str | None, force_new: bool, redo: tuple[str, ...],
           with_dependents: bool, limit: tuple[str, ...], dry_run: bool, fmt: str) -> None:
    """Deploy a blueprint: run every state's action once its requirements are reached.

    With --id of an existing deployment, deploy it again (converge): only new states,
    states whose inputs changed and states whose check probe fails are run.
    """
    given = given_params(params, params_file, blueprint)
    bp = load_blueprint(blueprint, given, strict=True)
    if dry_run:
        _dry_run(settings, bp, given, deployment_id, fmt,
                 {"redo": redo, "with_dependents": with_dependents, "limit": limit})
    with settings.store() as store:
        started = deployments.deploy(settings, store, bp, given, deployment_id=deployment_id,
                                     on_failure=on_failure,
                                     deadline=duration(deadline, "--deadline"),
                                     force_new=force_new, detach=detach, workers=workers,
                                     redo=redo, with_dependents=with_dependents, limit=limit)
        _follow(settings, started, fmt)


def _dry_run(settings: Settings, bp: Blueprint, given: dict[str, Any],
             deployment_id: str | None, fmt: str, targets: dict[str, Any]) -> None:
    if settings.missing_journal() is not None or deployment_id is None:
        found = dryrun.dry_run(settings, None, bp, given, None, **targets)
    else:
        with settings.existing_store() as store:
            found = dryrun.dry_run(settings, store, bp, given, deployment_id, **targets)
    counts = found.counts()
    if fmt != "table":
        emit({"deployment": found.deployment, "blueprint": found.blueprint,
              "changes": found.changes, "counts": counts,
              "steps": [{"state": s.state, "would": s.would, "why": s.why,
                         "diff": [{"field": f, "old": a, "new": b} for f, a, b in s.diff]}
                        for s in found.steps]}, fmt)
    else:
        what = f"deploying {found.deployment} again" if found.deployment and any(
            s.why != "a new deployment" for s in found.steps) else "a new deployment"
        summary = ", ".join(f"{n} {w}" for w, n in counts.items())
        out = console()
        out.print(styled(("dry run", "bold"), f" of {what} from {bp.path}: {summary}"))
        out.print(table(None, ("state", "would", "why"),
                        [[s.state, s.would, s.why] for s in found.steps]))
        for s in found.steps:
            for f, a, b in s.diff:
                out.print(styled(f"  {s.state} {f}: ", (_shown(a), "red"), " -> ",
                                 (_shown(b), "green")))
        out.print("nothing would change" if not found.changes else
                  "nothing was run or journaled; deploy without --dry-run to do it")
    sys.exit(1 if found.changes else 0)


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str,
                                                            ensure_ascii=False)


def _journaled_command(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options of the commands that continue a journaled deployment."""
    f = command(f)
    f = click.pass_obj(f)
    f = format_option(f)
    f = click.option("-w", "--workers", type=click.IntRange(1, 1024), default=DEFAULT_WORKERS,
                     show_default=True)(f)
    f = params_options(f)
    f = click.option("--detach", is_flag=True, help="Hand it to the engine services (or a "
                                                      "background engine) and return.")(f)
    return click.argument("deployment")(f)


def _rerun_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--rerun", multiple=True, metavar="STATE",
        help="Run this state in doubt afresh instead of asking for the outcome of its last "
             "attempt (repeatable). Only when you know it did not run, or may run again.")(f)


@click.command()
@click.option("--deadline", metavar="DURATION", help="A new deadline, counted from now.")
@click.option("--converge", is_flag=True, hidden=True)  # a detached re-deploy's own engine
@_rerun_option
@_journaled_command
def resume(settings: Settings, deployment: str, detach: bool, params: tuple[str, ...],
           params_file: str | None, workers: int, fmt: str, deadline: str | None,
           converge: bool, rerun: tuple[str, ...]) -> None:
    """Continue a deployment that was interrupted, paused, cancelled or failed, or whose
    engine died: reached states stay reached, actions still running and states in doubt
    are asked for again by their plan ids (never run twice), except those named by
    --rerun."""
    with settings.store() as store:
        started = deployments.resume(settings, store, deployment,
                                     given_params(params, params_file), workers=workers,
                                     deadline=duration(deadline, "--deadline"),
                                     converge=converge, detach=detach, rerun=rerun)
        _follow(settings, started, fmt)


@click.command()
@_rerun_option
@_journaled_command
def rollback(settings: Settings, deployment: str, detach: bool, params: tuple[str, ...],
             params_file: str | None, workers: int, fmt: str, rerun: tuple[str, ...]) -> None:
    """Undo a deployment: run 'undo' actions in reverse dependency order."""
    with settings.store() as store:
        started = deployments.rollback(settings, store, deployment,
                                       given_params(params, params_file), workers=workers,
                                       detach=detach, rerun=rerun)
        _follow(settings, started, fmt)


def _follow(settings: Settings, started: Drive | Submitted | Requested, fmt: str) -> None:
    """Say what a use case decided; drive it here if it is this process's to drive."""
    if isinstance(started, Requested):
        click.echo(f"{started.deployment}: {started.message}")
        return
    if isinstance(started, Submitted):
        if started.engines:
            click.echo(f"{started.deployment}: submitted to the engine services "
                       f"({started.engines} running)", err=True)
        click.echo(started.deployment)
        return
    for note in started.notes:
        click.echo(note, err=True)
    since = time.time()
    final = _drive(started, fmt)
    _report(started.engine.store, final.deployment, fmt, since)  # the run's own journal
    sys.exit(exit_code(final, started.what))


def _drive(drive: Drive, fmt: str) -> Verdict:
    """Run ``drive`` with progress shown and Ctrl-C / SIGTERM stopping it cleanly."""
    bp, what, dep_id = drive.bp, drive.what, drive.dep.id
    instances: dict[str, int] = {}
    for n in bp.nodes.values():
        instances[n.instance] = instances.get(n.instance, 0) + 1
    tty = sys.stdout.isatty() and fmt == "table"
    listener: Any = Dashboard(instances, f"{what} {dep_id}") if tty else (
        LinePrinter() if fmt == "table" else None)
    if fmt == "table" and not tty:
        click.echo(f"{what} {dep_id}: {len(bp.nodes)} states, {len(instances)} entities")
    previous = {s: signal.signal(s, lambda *_: drive.stop())
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if isinstance(listener, Dashboard):
            with listener:
                return drive.run(listener)
        return drive.run(listener)
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _report(store: Store, dep: DeploymentRecord, fmt: str, since: float) -> None:
    nodes = store.nodes(dep.id)
    if fmt != "table":
        emit({"deployment": deployment_dict(dep), "nodes": [node_dict(n) for n in nodes]}, fmt)
        return
    out = console()
    total = recap_counts(nodes, since)
    done = ", ".join(f"{total[k]} {k}" for k in ("changed", "ok", "failed", "undone")
                     if total[k] or k in ("changed", "ok"))
    took = f" in {total['took']}" if total["took"] else ""
    out.print(table(f"{dep.id}: {dep.state} — this run: {done}{took}", RECAP_COLUMNS,
                    recap_rows(nodes, since)))
    for n in nodes:
        if n.status in ("failed", "undo_failed", "in_doubt"):
            out.print(styled((n.name, "red"), f" {n.status}: {n.reason}"))
            if n.log_dir:
                out.print(styled(f"  logs: {n.log_dir}"))
    if dep.state == "interrupted":
        out.print(f"interrupted; state saved. Continue: murano-flow resume {dep.id}")
    elif dep.state == "rolling_back":
        out.print(f"interrupted while rolling back; state saved. Continue the rollback: "
                  f"murano-flow rollback {dep.id}")
