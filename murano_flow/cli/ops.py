"""``murano-flow cancel | pause | fsck``: steering a deployment from another shell, and
checking the journal.

Requests to a live engine go through the journal (the deployment row's ``control``
column), which that engine reads every half second: nothing else needs to reach
it, so the same works when it runs detached or on another machine.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from ..app import control
from ..app.fsck import Report, check
from ..engine import identity
from ..errors import CorruptState
from ..store.base import Event, Store
from .common import Settings, command, format_option
from .render import console, emit, styled, table


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
    with settings.existing_store() as store:
        done = control.cancel(store, deployment, now=now)
        if isinstance(done, control.Asked):
            _asked(store, done, wait)
        else:
            click.echo(f"{done.id}: cancelled")


@click.command()
@_request_options
@click.pass_obj
@command
def pause(settings: Settings, deployment: str, now: bool, wait: bool) -> None:
    """Pause a running deployment: no new actions start; running ones finish (or --now
    stop). 'murano-flow resume ID' continues it."""
    with settings.existing_store() as store:
        _asked(store, control.pause(store, deployment, now=now), wait)


def _asked(store: Store, asked: control.Asked, wait: bool) -> None:
    dep = asked.deployment
    click.echo(f"{dep.id}: {asked.what} requested; the engine {identity.describe(dep.owner)} "
               f"{'stops running actions and ' if asked.now else 'lets running actions finish, '}"
               f"then reports '{asked.goal}'")
    if wait:
        click.echo(f"{dep.id}: {control.honoured(store, asked).state}")


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
