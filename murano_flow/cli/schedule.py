"""``murano-flow schedule``: deploy (or converge) a blueprint at cron times or on messages."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import click

from ..app.schedule import run_once, trigger
from ..blueprint import load_blueprint
from ..engine import DEFAULT_WORKERS
from ..errors import MuranoFlowError
from .common import Settings, command, given_params, params_options
from .progress import LinePrinter
from .render import printable


def when_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """What starts a run: ``--cron`` (``--timezone``) or ``--on-message`` (``--match``,
    ``--from-user``); for ``schedule`` and ``trigger add``."""
    for option in reversed((
            click.option("--cron", metavar="EXPR",
                         help="Run at these times (5 fields, or 6 with seconds)."),
            click.option("--timezone", default="UTC", show_default=True,
                         help="Zone --cron is read in."),
            click.option("--on-message", metavar="EXCHANGE:KEY",
                         help="Run when a message with this routing key arrives on this "
                              "exchange."),
            click.option("--match", "matches", multiple=True, metavar="PATH=VALUE",
                         help="Only messages whose JSON body has this value here "
                              "(repeatable)."),
            click.option("--from-user", default="",
                         help="Only messages RabbitMQ validated as from this user_id."))):
        f = option(f)
    return f


@click.command()
@click.argument("blueprint", type=click.Path(dir_okay=False))
@params_options
@when_options
@click.option("--id", "deployment_id", help="Converge this deployment on each run.")
@click.option("--runs", type=click.IntRange(1), help="Stop after this many runs.")
@click.option("-w", "--workers", type=click.IntRange(1, 1024), default=DEFAULT_WORKERS,
              show_default=True)
@click.pass_obj
@command
def schedule(settings: Settings, blueprint: str, params: tuple[str, ...],
             params_file: str | None, cron: str | None, timezone: str, on_message: str | None,
             matches: tuple[str, ...], from_user: str | None, deployment_id: str | None,
             runs: int | None, workers: int) -> None:
    """Deploy BLUEPRINT at cron times or when a matching message arrives; Ctrl-C stops.

    Exits 0 when --runs runs succeeded, 1 if one of them did not.
    """
    given = given_params(params, params_file)
    load_blueprint(blueprint, given, strict=True)  # refuse a broken one now, not at 2 a.m.
    waits_for = trigger(settings, cron=cron, timezone=timezone, on_message=on_message,
                        matches=matches, from_user=from_user, name=deployment_id or blueprint)
    done, failed = 0, 0
    try:
        while runs is None or done < runs:
            why = waits_for.next()
            click.echo(f"{time.strftime('%H:%M:%S')} run {done + 1}: {why}")
            failed += _run(settings, blueprint, given, deployment_id, workers) != "succeeded"
            done += 1
    except KeyboardInterrupt:
        click.echo(f"schedule stopped after {done} runs", err=True)
    sys.exit(1 if failed else 0)


def _run(settings: Settings, blueprint: str, given: dict[str, Any], deployment_id: str | None,
         workers: int) -> str:
    try:
        final = run_once(settings, blueprint, given, deployment_id, workers, LinePrinter())
    except MuranoFlowError as exc:  # this run failed to start; the next trigger tries again
        click.echo(printable(f"error: {exc}"), err=True)
        return "failed"
    click.echo(f"{final.id}: {final.state}")
    return final.state
