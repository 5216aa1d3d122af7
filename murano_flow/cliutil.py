"""What every ``murano-flow`` command shares: settings, output format option, error handling."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .blueprint import Blueprint, parse_blueprint
from .errors import ConnectError, MuranoFlowError, UsageError
from .store import Store, open_store
from .store.base import DeploymentRecord
from .transports import open_transport
from .transports.amqp import Broker, agent_secret

FORMATS = click.Choice(["table", "json", "yaml"])


class Settings:
    """Options shared by every command."""

    def __init__(self, store: str, home: str, broker: str) -> None:
        self.store_url, self.home, self.broker_url = store, Path(home), broker
        self._broker: Broker | None = None

    def store(self) -> Store:
        """Open the journal."""
        return open_store(self.store_url)

    def transports(self, kind: str, fields: dict[str, Any]) -> Any:
        """Transport factory handed to the engine (agent hosts share one connection)."""
        return open_transport(kind, fields, root=self.home, broker=self.broker)

    def message_waits(self, store: Store, wake: Callable[[], None]) -> Any:
        """Broker subscriptions for states that wait for a message (the engine's factory)."""
        from .messagewaits import MessageWaits

        try:
            return MessageWaits(self.broker_url, store, wake)
        except ImportError as exc:
            raise ConnectError("states that wait for a message need pika",
                               hint="pip install 'murano-flow[amqp]'") from exc

    def broker(self) -> Broker:
        """The broker connection of the current run, opened on first use."""
        if self._broker is None or self._broker.closed:
            try:
                self._broker = Broker(self.broker_url, agent_secret(self.home))
            except ImportError as exc:
                raise ConnectError("agent hosts need pika",
                                   hint="pip install 'murano-flow[amqp]'") from exc
        return self._broker


def format_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """The ``-f table|json|yaml`` option of every read command."""
    return click.option("-f", "--format", "fmt", type=FORMATS, default="table",
                        show_default=True, help="Output format.")(f)


def command(f: Callable[..., Any]) -> Callable[..., Any]:
    """Turn MuranoFlowErrors into a clear message and their exit code; no tracebacks."""
    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except MuranoFlowError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
    return wrapper


def journaled_blueprint(dep: DeploymentRecord, given: dict[str, Any], *,
                        strict: bool = True) -> Blueprint:
    """The blueprint exactly as deployed; secrets must be given again (never stored).

    Without ``strict``, placeholders stand in for them (to read its shape only).
    """
    values = {k: v for k, v in dep.params.items() if v != "******"}
    values.update(given)
    src = dep.source or {}
    if "text" not in src:
        raise UsageError(f"deployment {dep.id} has no journaled blueprint")
    return parse_blueprint(src["text"], dep.path, values, strict=strict,
                           scripts=src.get("scripts", {}))
