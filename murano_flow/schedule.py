"""``murano-flow schedule``: deployment-level triggers - deploy (or re-converge) a blueprint
at cron times, or whenever a matching RabbitMQ message arrives ("a VM died ->
re-converge the cluster").

A trigger that comes while a run is going on is not queued behind it: every trigger
that came meanwhile collapses into one more run after it (a converge looks at the
whole deployment anyway). Message triggers use a durable queue of their own, so
messages that arrive while the scheduler is down start one run when it is back.
With ``--id`` each run converges that deployment (``deploy --id``): only what is
missing, changed or failing its check probe runs.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import zoneinfo
from datetime import datetime
from typing import Any

import click
from croniter import croniter

from .blueprint import load_blueprint
from .cliutil import Settings, command, exists, given_params, params_options
from .engine import DEFAULT_WORKERS, Engine
from .errors import MuranoFlowError, UsageError
from .masking import masked_url
from .progress import LinePrinter
from .transports.amqp import broker_error, connection_parameters
from .waiting import judge_message

log = logging.getLogger(__name__)


@click.command()
@click.argument("blueprint", type=click.Path(dir_okay=False))
@params_options
@click.option("--cron", metavar="EXPR", help="Run at these times (5 fields, or 6 with seconds).")
@click.option("--timezone", default="UTC", show_default=True, help="Zone --cron is read in.")
@click.option("--on-message", metavar="EXCHANGE:KEY",
              help="Run when a message with this routing key arrives on this exchange.")
@click.option("--match", "matches", multiple=True, metavar="PATH=VALUE",
              help="Only messages whose JSON body has this value here (repeatable).")
@click.option("--from-user", help="Only messages RabbitMQ validated as from this user_id.")
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
    if (cron is None) == (on_message is None):
        raise UsageError("give --cron or --on-message (one of them)")
    given = given_params(params, params_file)
    load_blueprint(blueprint, given, strict=True)  # refuse a broken one now, not at 2 a.m.
    trigger = _Cron(cron, timezone) if cron else _Messages(
        settings.broker_url, on_message or "", _filters(matches), from_user or "",
        deployment_id or blueprint)
    done, failed = 0, 0
    try:
        while runs is None or done < runs:
            why = trigger.next()
            click.echo(f"{time.strftime('%H:%M:%S')} run {done + 1}: {why}")
            failed += _run(settings, blueprint, given, deployment_id, workers) != "succeeded"
            done += 1
    except KeyboardInterrupt:
        click.echo(f"schedule stopped after {done} runs", err=True)
    sys.exit(1 if failed else 0)


def _run(settings: Settings, blueprint: str, given: dict[str, Any], deployment_id: str | None,
         workers: int) -> str:
    """One deployment (or converge) of the blueprint as it is on disk now."""
    try:
        bp = load_blueprint(blueprint, given, strict=True)
        with settings.store() as store:
            engine = Engine(store, settings.transports, workers=workers,
                            messages=settings.message_waits, listener=LinePrinter(),
                            secret=settings.secret())
            source = {"text": bp.text, "scripts": bp.scripts}
            converge = bool(deployment_id) and exists(store, deployment_id or "")
            dep = engine.reshape(bp, deployment_id, source) if converge and deployment_id \
                else engine.create(bp, deployment_id, source)
            final = engine.deploy(bp, dep.id, converge=converge)
    except MuranoFlowError as exc:  # this run failed to start; the next trigger tries again
        click.echo(f"error: {exc}", err=True)
        return "failed"
    click.echo(f"{final.id}: {final.state}")
    return final.state


def _filters(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        path, sep, text = pair.partition("=")
        if not sep or not path:
            raise UsageError(f"--match {pair!r}: write PATH=VALUE, e.g. --match event=vm.died")
        try:
            out[path] = json.loads(text)  # numbers, booleans, lists as JSON
        except ValueError:
            out[path] = text
    return out


class _Cron:
    def __init__(self, expr: str, zone: str) -> None:
        try:
            self.zone = zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise UsageError(f"--timezone: unknown time zone {zone!r}") from None
        if not croniter.is_valid(expr):
            raise UsageError(f"--cron {expr!r} is not a cron expression",
                             hint="5 fields (minute hour day month weekday), or 6 with "
                                  "seconds last, e.g. '0 2 * * *'")
        self.expr = expr

    def next(self) -> str:
        due = croniter(self.expr, datetime.now(self.zone)).get_next(float)
        time.sleep(max(0.0, due - time.time()))
        return f"cron '{self.expr}'"


class _Messages:
    def __init__(self, url: str, where: str, match: dict[str, Any], user: str,
                 name: str) -> None:
        exchange, sep, self.key = where.partition(":")
        if not sep or not exchange:
            raise UsageError(f"--on-message {where!r}: write EXCHANGE:ROUTING_KEY")
        import pika  # imported here: a local-only install does not need pika

        self.pika, self.url, self.exchange = pika, url, exchange
        self.match, self.user = match, user
        self.queue = f"murano-flow.trigger.{name}.{exchange}.{self.key}"[:200]

    def next(self) -> str:
        """Block until a message passes; ack it and every other one waiting (coalesced)."""
        while True:
            try:
                return self._take()
            except (self.pika.exceptions.AMQPError, OSError) as exc:
                log.warning("broker at %s: %s; retrying in 5s", masked_url(self.url),
                            broker_error(exc))
                time.sleep(5)

    def _take(self) -> str:
        conn = self.pika.BlockingConnection(connection_parameters(self.url))
        try:
            channel = conn.channel()
            channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
            channel.queue_declare(self.queue, durable=True)
            channel.queue_bind(self.queue, self.exchange, routing_key=self.key)
            why = ""
            for method, props, raw in channel.consume(self.queue, inactivity_timeout=1.0):
                if method is None:  # the queue is drained
                    if why:
                        return why
                    continue
                _, problem = judge_message(raw, getattr(props, "user_id", None) or "",
                                           self.user, self.match)
                channel.basic_ack(method.delivery_tag)  # before the run: the connection
                if problem is None:                   # is closed while it goes on
                    log.info("trigger: a message via %s/%s does not pass --match",
                             self.exchange, method.routing_key)
                elif problem:
                    log.warning("trigger ignored a message via %s/%s: %s", self.exchange,
                                method.routing_key, problem)
                elif not why:
                    why = f"message via {self.exchange}/{method.routing_key}"
            return why
        finally:
            if conn.is_open:
                conn.close()
