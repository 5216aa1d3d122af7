"""``murano-flow hosts list | release``: which deployment holds each host, and handing
a host over to another deployment."""

from __future__ import annotations

import click

from ..app import hosts as use
from .common import Settings, command, rows_format_options
from .render import emit, emit_rows, rows_wanted

COLUMNS = ("host", "deployment", "released")


@click.group()
def hosts() -> None:
    """Hosts and the deployment each belongs to (one at a time)."""


@hosts.command("list")
@rows_format_options
@click.pass_obj
@command
def list_hosts(settings: Settings, fmt: str, columns: tuple[str, ...]) -> None:
    """Every host a deployment holds: something done there is not undone."""
    if settings.missing_journal() is not None:
        held: list[use.Holding] = []
    else:
        with settings.existing_store() as store:
            held = use.holdings(store)
    records = [{"host": h.host, "deployment": h.deployment, "released": h.released}
               for h in held]
    chosen = rows_wanted(fmt, columns, COLUMNS, COLUMNS)
    if chosen is None and fmt != "table":
        emit(records, fmt)
    else:
        emit_rows(records, fmt, chosen or list(COLUMNS))


@hosts.command()
@click.argument("deployment")
@click.argument("host", nargs=-1, required=True)
@click.pass_obj
@command
def release(settings: Settings, deployment: str, host: tuple[str, ...]) -> None:
    """Hand HOST (as 'hosts list' names it, e.g. ssh:web-1) over: DEPLOYMENT runs nothing
    there any more (not even its undo), and another deployment may take it."""
    with settings.existing_store() as store:
        done = use.release(store, deployment, host)
    click.echo(f"{deployment} handed over {', '.join(done)}")
