"""What every ``murano-flow`` command shares: settings, output format option, error handling."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import yaml

from .blueprint import Blueprint, parse_blueprint, parse_cli_params
from .durations import seconds
from .errors import ConnectError, MuranoFlowError, NotFound, UsageError
from .output import printable
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

    def secret(self) -> str:
        """The engines' shared secret (agents' keys, sealed secrets): see agent_secret."""
        return agent_secret(self.home)

    def broker(self) -> Broker:
        """The broker connection of the current run, opened on first use."""
        if self._broker is None or self._broker.closed:
            try:
                self._broker = Broker(self.broker_url, agent_secret(self.home))
            except ImportError as exc:
                raise ConnectError("agent hosts need pika",
                                   hint="pip install 'murano-flow[amqp]'") from exc
        return self._broker


def params_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The ``-p NAME=VALUE`` and ``--params-file`` options."""
    f = click.option("--params-file", type=click.Path(dir_okay=False, allow_dash=True),
                     help="YAML/JSON mapping of parameter values ('-' reads stdin).")(f)
    return click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
                        help="A parameter value (repeatable).")(f)


def given_params(params: tuple[str, ...], params_file: str | None) -> dict[str, Any]:
    """The parameter values given by ``-p`` and ``--params-file`` (``-p`` wins)."""
    given: dict[str, Any] = {}
    if params_file:
        try:
            text = sys.stdin.read() if params_file == "-" else Path(params_file).read_text("utf-8")
            data = yaml.safe_load(text) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise UsageError(f"cannot read parameters from {params_file}: {exc}") from exc
        if not isinstance(data, dict):
            raise UsageError(f"{params_file} must hold a mapping of parameter names to values")
        given.update({str(k): v for k, v in data.items()})
    given.update(parse_cli_params(params))
    return given


def exists(store: Store, deployment_id: str) -> bool:
    """Whether the journal has a deployment called ``deployment_id``."""
    try:
        store.deployment(deployment_id)
    except NotFound:
        return False
    return True


def duration(text: str | None, option: str) -> float | None:
    """The value of a DURATION option in seconds (None if not given); exit 2 if bad."""
    if text is None:
        return None
    try:
        value = seconds(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None
    if value <= 0:
        raise UsageError(f"{option} must be longer than zero")
    return value


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
            click.echo(printable(f"error: {exc}"), err=True)
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
