"""``murano-flow list | status | events``: reading the journal."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from ..app.documents import (
    DEPLOYMENT_FIELDS,
    EVENT_FIELDS,
    NODE_FIELDS,
    deployment_dict,
    event_dict,
    node_dict,
)
from ..engine import identity
from ..states import ACTIVE, FINISHED, recorded_exit_code
from ..store import Store
from .common import Settings, command, duration, rows_format_options
from .progress import event_line
from .render import (
    RECAP_COLUMNS,
    console,
    emit,
    emit_rows,
    pick_columns,
    recap_rows,
    row_lines,
    rows_wanted,
    stamp,
    styled,
    table,
)

#: The fields -f value|csv prints when no -c is given.
LIST_COLUMNS = ("id", "blueprint", "state", "created", "updated", "reason")
NODE_COLUMNS = ("name", "status", "attempt", "host", "started", "finished", "exit_code",
                "reason")
EVENT_COLUMNS = ("seq", "ts", "kind", "node", "status", "message")


@click.command("list")
@click.option("-n", "--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@rows_format_options
@click.pass_obj
@command
def list_(settings: Settings, limit: int, fmt: str, columns: tuple[str, ...]) -> None:
    """List deployments, newest first."""
    chosen = rows_wanted(fmt, columns, DEPLOYMENT_FIELDS, LIST_COLUMNS)
    missing = settings.missing_journal()
    if missing is not None:  # not created by a look: say where we looked instead
        click.echo(f"no journal at {missing} yet: nothing was deployed with this store "
                   "(run where you deployed, or give --store)", err=True)
        deps = []
    else:
        with settings.existing_store() as store:
            deps = store.deployments(limit)
    if chosen is not None:
        emit_rows([deployment_dict(d) for d in deps], fmt, chosen)
        return
    if fmt != "table":
        emit([deployment_dict(d) for d in deps], fmt)
        return
    rows = [[d.id, d.blueprint, d.state, stamp(d.created), stamp(d.updated),
             _short(d.reason)] for d in deps]
    console().print(table(None, ("id", "blueprint", "state", "created", "updated", "reason"),
                          rows))


@click.command()
@click.argument("deployment")
@click.option("--nodes", "show_nodes", is_flag=True, help="One row per state, not per entity.")
@rows_format_options
@click.pass_obj
@command
def status(settings: Settings, deployment: str, show_nodes: bool, fmt: str,
           columns: tuple[str, ...]) -> None:
    """Show a deployment: per entity (or per state with --nodes); -f value|csv and -c
    print its states."""
    chosen = rows_wanted(fmt, columns, NODE_FIELDS, NODE_COLUMNS)
    with settings.existing_store() as store:
        dep, nodes = store.deployment(deployment), store.nodes(deployment)
        driven = identity.driving(dep)
        engines = len(store.engines()) if dep.request and not driven else 0
    if chosen is not None:
        emit_rows([node_dict(n) for n in nodes], fmt, chosen)
        return
    if fmt != "table":
        emit({"deployment": deployment_dict(dep), "nodes": [node_dict(n) for n in nodes]}, fmt)
        return
    out = console()
    out.print(styled((dep.id, "bold"), f" ({dep.blueprint}): {dep.state}"
                     + (f" — {dep.reason}" if dep.reason else "")))
    if driven:
        out.print(styled(f"driven by the engine {identity.describe(dep.owner)}"))
    elif dep.request:
        out.print(styled(f"submitted ({dep.request}): waiting for an engine service ("
                         + (f"{engines} running)" if engines else "none is running: start "
                            "one with 'murano-flow engine serve')")))
    if show_nodes:
        rows = [[n.name, n.status, n.attempt or "", n.host, stamp(n.started), stamp(n.finished),
                 n.exit_code if n.exit_code is not None else "", _short(n.reason)]
                for n in nodes]
        out.print(table(None, ("state", "status", "try", "host", "started", "finished", "exit",
                               "reason"), rows))
    else:
        out.print(table(None, RECAP_COLUMNS, recap_rows(nodes)))


@click.command()
@click.argument("deployment")
@click.option("--follow", is_flag=True, help="Keep printing new events until the end.")
@click.option("--node", help="Only events of this state (e.g. 'web[0].Installed').")
@rows_format_options
@click.pass_obj
@command
def events(settings: Settings, deployment: str, follow: bool, node: str | None,
           fmt: str, columns: tuple[str, ...]) -> None:
    """Print the event log of a deployment (JSON lines with -f json --follow). With
    --follow, exit with the deployment's verdict once it ends (as `wait`)."""
    chosen = pick_columns(EVENT_FIELDS, columns) if columns else None
    with settings.existing_store() as store:
        after, headed = 0, False
        while True:
            batch = store.events(deployment, after)
            shown = [e for e in batch if node is None or e.node == node]
            docs = [event_dict(e) for e in shown]
            if chosen is not None:
                docs = [{c: d[c] for c in chosen} for d in docs]
            if fmt in ("value", "csv") and (shown or not headed):
                for line in row_lines(docs, fmt, chosen or EVENT_COLUMNS, header=not headed):
                    click.echo(line)
                headed = True
            elif fmt == "json" and follow:
                for d in docs:
                    click.echo(json.dumps(d))
            elif fmt != "table" and not follow:
                emit(docs, fmt)
            elif chosen is not None and not follow:
                emit_rows(docs, fmt, chosen)
            else:
                for e in shown:
                    click.echo(event_line(e))
            after = batch[-1].seq if batch else after
            if not follow:
                return
            if not batch and _nothing_more(store, deployment):
                sys.exit(_verdict_code(store, deployment))
            time.sleep(0.5 if not batch else 0.05)


@click.command()
@click.argument("deployment")
@click.option("--timeout", metavar="DURATION",
              help="Give up after this long (e.g. 90s, 1h30m): exit 124.")
@click.pass_obj
@command
def wait(settings: Settings, deployment: str, timeout: str | None) -> None:
    """Wait until a deployment ends; exit with its verdict: 0 succeeded (or rolled back as
    asked), 1 failed, cancelled or rolled back after a failure, 130 interrupted or its
    engine gone, 124 still going at --timeout."""
    limit = duration(timeout, "--timeout")
    deadline = None if limit is None else time.monotonic() + limit
    with settings.existing_store() as store:
        while not _nothing_more(store, deployment):
            if deadline is not None and time.monotonic() >= deadline:
                state = store.deployment(deployment).state
                click.echo(f"{deployment} is still {state} after {timeout}", err=True)
                sys.exit(124)
            time.sleep(0.5)
        dep = store.deployment(deployment)
        click.echo(f"{deployment}: {dep.state}" + (f" ({dep.reason})" if dep.reason else ""))
        sys.exit(_verdict_code(store, deployment))


@click.command()
@click.argument("deployment")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="The HTML file to write.")
@click.pass_obj
@command
def report(settings: Settings, deployment: str, output: str) -> None:
    """Write one self-contained HTML file about a deployment: its graph coloured by state,
    the timeline of every action per host, the failures with their log tails, the events
    (secrets masked; opens offline, to attach to a ticket)."""
    from ..app.report import report as make_report

    with settings.existing_store() as store:
        page = make_report(store, deployment)
    Path(output).write_text(page, "utf-8")
    click.echo(f"wrote {output}")


def _verdict_code(store: Store, deployment: str) -> int:
    """A finished deployment's exit code; 130 for one no engine drives any more."""
    dep = store.deployment(deployment)
    return recorded_exit_code(dep.state, dep.reason) if dep.state in FINISHED else 130


def _nothing_more(store: Store, deployment: str) -> bool:
    """Whether no engine will add events to the deployment: it finished, or its engine
    died and no engine service is there to take it over."""
    dep = store.deployment(deployment)
    if dep.state in FINISHED:  # unless an engine was asked to take it again (detached)
        return not dep.request
    if dep.state in ACTIVE and not identity.driving(dep):
        if dep.request and store.engines():
            return False  # a service takes it over once the dead engine's lease runs out
        click.echo(f"{dep.id} is {dep.state} but its engine is gone: 'murano-flow resume "
                   f"{dep.id}' continues it", err=True)
        return True
    return False


def _short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."
