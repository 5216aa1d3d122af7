"""``murano-flow cancel | pause | fsck``: steering a deployment from another shell, and
checking the journal.

Requests to a live engine go through the journal (the deployment row's ``control``
column), which that engine reads every half second: nothing else needs to reach
it, so the same works when it runs detached or on another machine.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from . import owner
from .cliutil import Settings, command, format_option
from .errors import CorruptState, UsageError
from .fsck import Report, check
from .lifecycle import allowed, fire_deployment
from .output import console, emit, styled, table
from .states import ACTIVE
from .store.base import DeploymentRecord, Event, Store

#: How long --wait waits for the engine to honour a request.
WAIT_LIMIT = 3600.0


def _request_options(f: Any) -> Any:
    f = click.option("--wait", is_flag=True, help="Return only once the engine has done it.")(f)
    f = click.option("--now", is_flag=True,
                     help="Stop running actions too (they run again on resume).")(f)
    return click.argument("deployment")(f)


@click.command()
@_request_options
@click.pass_obj
@command
def cancel(settings: Settings, deployment: str, now: bool, wait: bool) -> None:
    """Give up on a deployment: no new actions start; running ones finish (or --now stop).

    A cancelled deployment keeps its journal: 'resume' continues it, 'rollback' undoes it.
    """
    with settings.store() as store:
        dep = store.deployment(deployment)
        if owner.driving(dep):
            _ask(store, dep, "cancel", now, wait, "cancelled")
            return
        if not allowed("deployment", dep.state, "cancel"):
            raise UsageError(f"deployment {dep.id} is '{dep.state}': nothing to cancel")
        me = owner.me()  # hold the claim while writing: no engine may start it meanwhile
        if not store.claim(dep.id, me, dep.owner):
            raise UsageError(f"an engine took deployment {dep.id} just now",
                             hint="run the same cancel again: it will ask that engine")
        try:
            fire_deployment(dep, "cancel")
            message = "cancelled by the operator (no engine was driving it)"
            store.commit(dep.id, [], [Event(dep.id, time.time(), "deployment",
                                            status=dep.state, message=message)],
                         state=dep.state, reason=message)
        finally:  # the request too: an engine service must not take it up afterwards
            store.claim(dep.id, "", me, request="")
        click.echo(f"{dep.id}: cancelled")


@click.command()
@_request_options
@click.pass_obj
@command
def pause(settings: Settings, deployment: str, now: bool, wait: bool) -> None:
    """Pause a running deployment: no new actions start; running ones finish (or --now
    stop). 'murano-flow resume ID' continues it."""
    with settings.store() as store:
        dep = store.deployment(deployment)
        if dep.state == "rolling_back":
            raise UsageError(f"deployment {dep.id} is rolling back: a rollback cannot be "
                             "paused", hint=f"'murano-flow cancel {dep.id}' stops it")
        if not owner.driving(dep):
            raise UsageError(f"no engine is driving deployment {dep.id} ('{dep.state}'): "
                             "it is not running", hint=f"'murano-flow status {dep.id}'")
        _ask(store, dep, "pause", now, wait, "paused")


def _ask(store: Store, dep: DeploymentRecord, what: str, now: bool, wait: bool,
         goal: str) -> None:
    store.set_control(dep.id, f"{what}:now" if now else what)
    click.echo(f"{dep.id}: {what} requested; the engine {owner.describe(dep.owner)} "
               f"{'stops running actions and ' if now else 'lets running actions finish, '}"
               f"then reports '{goal}'")
    if not wait:
        return
    limit = time.monotonic() + WAIT_LIMIT
    while time.monotonic() < limit:
        now_dep = store.deployment(dep.id)
        if now_dep.state not in ACTIVE or now_dep.state == goal:
            click.echo(f"{dep.id}: {now_dep.state}")
            return
        if not owner.driving(now_dep):
            raise UsageError(f"the engine driving {dep.id} is gone before it was {goal}",
                             hint=f"'murano-flow resume {dep.id}' or 'cancel {dep.id}'")
        time.sleep(0.2)
    raise UsageError(f"{dep.id} is still '{now_dep.state}' after {WAIT_LIMIT:g} s")


@click.command()
@click.argument("deployment", required=False)
@format_option
@click.pass_obj
@command
def fsck(settings: Settings, deployment: str | None, fmt: str) -> None:
    """Check the journal's integrity (one deployment, or all); exit 1 on any problem."""
    try:
        with settings.store() as store:
            storage = store.check()
            deps = [store.deployment(deployment)] if deployment else store.deployments(100_000)
            reports = [check(d, store.nodes(d.id), _all_events(store, d.id)) for d in deps]
    except CorruptState as exc:  # damage is what fsck is asked to find: a finding, exit 1
        storage, reports = [str(exc)], []
    bad = bool(storage) or any(not r.ok for r in reports)
    if fmt != "table":
        emit({"ok": not bad, "storage": storage,
              "deployments": [r.__dict__ for r in reports]}, fmt)
    else:
        _print(storage, reports)
    sys.exit(1 if bad else 0)


def _all_events(store: Store, dep_id: str) -> list[Event]:
    events: list[Event] = []
    while batch := store.events(dep_id, events[-1].seq if events else 0):
        events += batch
    return events


def _print(storage: list[str], reports: list[Report]) -> None:
    out = console()
    for line in storage:
        out.print(styled(("journal:", "red"), f" {line}"))
    rows = [[r.deployment, r.state, "ok" if r.ok else f"{len(r.problems)} problems",
             "; ".join(r.problems + r.notes)[:200]] for r in reports]
    if rows:
        out.print(table(None, ("deployment", "state", "check", "details"), rows))
    if not storage and all(r.ok for r in reports):
        out.print(f"journal OK: {len(reports)} deployments checked")
