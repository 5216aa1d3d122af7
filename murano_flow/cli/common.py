"""What every ``murano-flow`` command shares: options, the output format, error handling."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..app.settings import Settings, exists, journaled_blueprint
from ..durations import seconds
from ..errors import MuranoFlowError, UsageError
from .render import ROW_FORMATS, printable

__all__ = ["Settings", "command", "duration", "exists", "format_option", "given_params",
           "journaled_blueprint", "listen_address", "params_options", "rows_format_options"]

FORMATS = click.Choice(["table", "json", "yaml"])


def params_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The ``-p NAME=VALUE`` and ``--params-file`` options."""
    f = click.option("--params-file", type=click.Path(dir_okay=False, allow_dash=True),
                     help="YAML/JSON mapping of parameter values ('-' reads stdin).")(f)
    return click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
                        help="A parameter value (repeatable).")(f)


def given_params(params: tuple[str, ...], params_file: str | None,
                 blueprint: str | None = None) -> dict[str, Any]:
    """The parameter values given by ``-p`` and ``--params-file`` (``-p`` wins)."""
    import yaml

    from ..blueprint import parse_cli_params

    if blueprint == "-" and params_file == "-":
        raise UsageError("the blueprint and --params-file cannot both be read from stdin '-'")
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


def listen_address(text: str, option: str) -> tuple[str, int]:
    """(host, port) of a HOST:PORT option; UsageError saying how to write it."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise UsageError(f"{option} {text!r}: give HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]"), int(port)


def format_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """The ``-f table|json|yaml`` option of every read command."""
    return click.option("-f", "--format", "fmt", type=FORMATS, default="table",
                        show_default=True, help="Output format.")(f)


def rows_format_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``-f table|json|yaml|value|csv`` and ``-c COLUMN`` of the commands listing records."""
    f = click.option("-c", "--column", "columns", multiple=True, metavar="COLUMN",
                     help="Show only this field (repeatable; the fields of -f json).")(f)
    return click.option("-f", "--format", "fmt", type=click.Choice(ROW_FORMATS),
                        default="table", show_default=True, help="Output format.")(f)


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
