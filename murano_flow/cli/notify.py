"""``murano-flow notify``: the journal's events to a RabbitMQ topic exchange."""

from __future__ import annotations

import click

from ..app.notify import relay_events
from .common import Settings, command


@click.command()
@click.option("--exchange", default="murano-flow.events", show_default=True,
              help="The topic exchange events are published to (declared if missing).")
@click.option("--from-start", is_flag=True, help="Publish the whole journal again.")
@click.option("--once", is_flag=True, help="Publish what is journaled now, then exit.")
@click.pass_obj
@command
def notify(settings: Settings, exchange: str, from_start: bool, once: bool) -> None:
    """Publish every journaled event (of every engine) to a RabbitMQ topic exchange.

    Run it as a service next to the engines. It continues where it stopped; on its
    first run it starts at the end of the journal (--from-start: at the beginning).
    """
    with settings.store() as store:
        try:
            sent = relay_events(store, settings.broker_url, exchange, from_start=from_start,
                                once=once)
        except KeyboardInterrupt:
            click.echo("notify stopped", err=True)
            return
    click.echo(f"published {sent} events to {exchange}")
