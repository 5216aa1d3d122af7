"""``murano-flow delete | prune``: removing finished deployments from the journal and
their action logs from the home directory."""

from __future__ import annotations

import click

from ..app import history
from .common import Settings, command, duration


@click.command()
@click.argument("deployment")
@click.pass_obj
@command
def delete(settings: Settings, deployment: str) -> None:
    """Delete a finished deployment: its journal (nodes, events, signals) and its action
    logs. A deployment that may still run is refused (exit 2): cancel it, or resume or
    roll it back, first. Its hosts are not touched: roll it back to undo what it made."""
    with settings.existing_store() as store:
        history.delete(settings, store, deployment)
    click.echo(f"deleted {deployment}")


@click.command()
@click.option("--older-than", "older_than", required=True, metavar="DURATION",
              help="Delete deployments finished longer ago than this (e.g. 30d, 12h).")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.pass_obj
@command
def prune(settings: Settings, older_than: str, dry_run: bool) -> None:
    """Delete every deployment that finished longer ago than --older-than (its journal and
    action logs); running, paused or interrupted ones are kept whatever their age."""
    age = duration(older_than, "--older-than")
    assert age is not None  # a required option
    with settings.existing_store() as store:
        pruned = history.prune(settings, store, age, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for dep in pruned.deleted:
        click.echo(f"{verb} {dep}")
    for dep in pruned.skipped:
        click.echo(f"kept {dep}: an engine holds it or was asked to take it", err=True)
    click.echo(f"{verb} {len(pruned.deleted)} deployments finished more than {older_than} ago")
