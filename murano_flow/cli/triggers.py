"""``murano-flow push`` (store a blueprint version) and ``murano-flow trigger add | list |
remove``: triggers that the engine services fire."""

from __future__ import annotations

import getpass
import socket
from pathlib import Path

import click

from ..app import library, triggers
from ..app.schedule import filters
from ..blueprint import load_blueprint
from ..errors import NotFound
from .common import Settings, command, given_params, params_options, rows_format_options
from .render import emit_rows, rows_wanted
from .schedule import when_options

TRIGGER_FIELDS = ("id", "kind", "spec", "blueprint", "version", "deployment", "params", "due",
                  "created", "fired", "last")
TRIGGER_COLUMNS = ("id", "kind", "spec", "blueprint", "deployment", "fired", "last")


@click.command()
@click.argument("blueprint", type=click.Path(dir_okay=False, exists=True))
@click.pass_obj
@command
def push(settings: Settings, blueprint: str) -> None:
    """Store BLUEPRINT, with every file it reads, as the next version of its name in the
    journal (what the API's upload does); an unchanged blueprint keeps its version."""
    bp = load_blueprint(blueprint)
    with settings.store() as store:
        stored, new = library.upload(store, Path(blueprint).name, bp.text, bp.scripts,
                                     f"{getpass.getuser()}@{socket.gethostname()}")
    click.echo(f"{stored.name} version {stored.version}" + ("" if new else " (unchanged)"))


@click.group("trigger")
def trigger() -> None:
    """Triggers the engine services fire: cron times or broker messages."""


@trigger.command("add")
@click.argument("trigger_id", metavar="ID")
@click.option("--blueprint", required=True, help="A stored blueprint's name (see push).")
@click.option("--version", type=click.IntRange(1), help="Its version (default: the newest "
                                                        "when the trigger fires).")
@click.option("--deployment", default="", help="Converge this deployment each time (default: "
                                               "a new deployment ID-<time> each time).")
@params_options
@when_options
@click.pass_obj
@command
def add(settings: Settings, trigger_id: str, blueprint: str, version: int | None,
        deployment: str, params: tuple[str, ...], params_file: str | None, cron: str | None,
        timezone: str, on_message: str | None, matches: tuple[str, ...],
        from_user: str) -> None:
    """Register trigger ID; every engine service fires it from now on (one firing per due
    time or per burst of messages)."""
    with settings.store() as store:
        made = triggers.register(settings, store, trigger_id, blueprint=blueprint,
                                 version=version, deployment=deployment,
                                 given=given_params(params, params_file), cron=cron,
                                 timezone=timezone, on_message=on_message,
                                 match=filters(matches), from_user=from_user)
    click.echo(f"trigger {made.id} registered ({made.kind})")


@trigger.command("list")
@rows_format_options
@click.pass_obj
@command
def list_triggers(settings: Settings, fmt: str, columns: tuple[str, ...]) -> None:
    """Every trigger: what fires it, what it deploys, how often it fired and what the
    last firing did."""
    with settings.existing_store() as store:
        rows = [{f: getattr(t, f) for f in TRIGGER_FIELDS} for t in store.triggers()]
    if not rows and fmt == "table":
        click.echo("no trigger ('murano-flow trigger add' registers one)")
        return
    chosen = rows_wanted(fmt, columns, TRIGGER_FIELDS, TRIGGER_COLUMNS)
    emit_rows(rows, fmt, chosen or list(TRIGGER_COLUMNS if fmt == "table" else TRIGGER_FIELDS))


@trigger.command("remove")
@click.argument("trigger_id", metavar="ID")
@click.pass_obj
@command
def remove(settings: Settings, trigger_id: str) -> None:
    """Remove trigger ID: it fires no more (a firing under way still submits)."""
    with settings.existing_store() as store:
        if not triggers.remove(store, trigger_id):
            raise NotFound(f"no trigger '{trigger_id}'",
                           hint="'murano-flow trigger list' shows them")
    click.echo(f"trigger {trigger_id} removed")
