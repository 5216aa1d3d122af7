"""Deployment-level triggers (``murano-flow schedule``) - deploy (or re-converge) a blueprint
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
import time
import zoneinfo
from collections.abc import Callable
from datetime import datetime
from typing import Any

from croniter import croniter

from ..blueprint import load_blueprint
from ..engine import Verdict
from ..engine.run import Listener
from ..engine.waits import judge_message
from ..errors import UsageError
from ..wire.broker import Backoff, close_quietly, keep_connected
from .deployments import Drive, deploy
from .settings import Settings

log = logging.getLogger(__name__)


def trigger(settings: Settings, *, cron: str | None, timezone: str, on_message: str | None,
            matches: tuple[str, ...], from_user: str | None, name: str) -> Cron | MessageTrigger:
    """The trigger ``schedule`` waits on: cron times, or matching broker messages.

    Raises:
        UsageError: neither or both given, or one of them is malformed.
    """
    if (cron is None) == (on_message is None):
        raise UsageError("give --cron or --on-message (one of them)")
    if cron:
        return Cron(cron, timezone)
    return MessageTrigger(settings.broker_url, on_message or "", filters(matches),
                          from_user or "", name)


def run_once(settings: Settings, blueprint: str, given: dict[str, Any],
             deployment_id: str | None, workers: int, listener: Listener | None) -> Verdict:
    """One deployment (or, with ``deployment_id`` existing, converge) of the blueprint as
    it is on disk now, driven to its end in this process."""
    bp = load_blueprint(blueprint, given, strict=True)
    with settings.store() as store:
        started = deploy(settings, store, bp, given, deployment_id=deployment_id,
                         force_new=True, workers=workers)
        assert isinstance(started, Drive)
        return started.run(listener)


def filters(pairs: tuple[str, ...]) -> dict[str, Any]:
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


class Cron:
    """Fires at the times of a cron expression, read in a time zone."""

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


class MessageTrigger:
    """Fires when a message passing the filters reaches its durable queue."""

    def __init__(self, url: str, where: str, match: dict[str, Any], user: str,
                 name: str) -> None:
        exchange, sep, self.key = where.partition(":")
        if not sep or not exchange:
            raise UsageError(f"--on-message {where!r}: write EXCHANGE:ROUTING_KEY")
        import pika  # imported here: a local-only install does not need pika

        self.pika, self.url, self.exchange = pika, url, exchange
        self.match, self.user = match, user
        self.queue = f"murano-flow.trigger.{name}.{exchange}.{self.key}"[:200]

    def next(self, stop: Callable[[], bool] = lambda: False) -> str:
        """Block until a message passes (or ``stop()``: ''); ack it and every other one
        waiting (coalesced)."""
        why: list[str] = []
        keep_connected(self.url, lambda conn, _: self._take(conn, why, stop), what="schedule",
                       until=lambda: bool(why) or stop(), wait=time.sleep,
                       backoff=Backoff(first=1.0, most=5.0))
        return why[0] if why else ""

    def _take(self, conn: Any, found: list[str], stop: Callable[[], bool]) -> bool:
        """Consume until the queue is drained after a message passed (True, and ``found``
        says which), acking every message: what came meanwhile collapses into one run."""
        try:
            channel = conn.channel()
            channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
            channel.queue_declare(self.queue, durable=True)
            channel.queue_bind(self.queue, self.exchange, routing_key=self.key)
            why = ""
            for method, props, raw in channel.consume(self.queue, inactivity_timeout=1.0):
                if method is None:  # the queue is drained
                    if why:
                        found.append(why)
                        return True
                    if stop():
                        return True
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
            return False
        finally:
            close_quietly(conn)
