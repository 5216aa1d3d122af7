"""``murano-flow examples | init``: the shipped blueprints, and copying one out."""

from __future__ import annotations

from pathlib import Path

import click

from ..app import examples as shipped
from .common import command
from .render import console, table


@click.command()
@command
def examples() -> None:
    """List the example blueprints that come with murano-flow."""
    found = shipped.examples()
    console().print(table(None, ("name", "description"),
                          [[e.name, e.description] for e in found]))
    click.echo(f"in {shipped.examples_dir()}; 'murano-flow init NAME' copies one here")


@click.command()
@click.argument("name", default="webfarm")
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@command
def init(name: str, directory: str, force: bool) -> None:
    """Copy the example blueprint NAME (default: webfarm) and the files it reads into
    DIRECTORY (default: here), to deploy or to start a blueprint of your own from."""
    written = shipped.copy_out(name, Path(directory), force=force)
    click.echo(f"wrote {written[0]} and {len(written) - 1} files it reads; next: "
               f"murano-flow validate {written[0]} && murano-flow deploy {written[0]}")
