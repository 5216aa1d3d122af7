"""The ``murano-flow`` command group: its global options, its commands, its entry point.

The commands parse their arguments, call the application layer (:mod:`murano_flow.app`)
and render what it returns; they never write the journal nor drive an engine themselves.

Exit codes (DESIGN.md section 3): 0 success; 1 the deployment failed or was rolled
back; 2 invalid input; 3 infrastructure unreachable; 70 an internal error (a bug in
murano-flow, never a verdict on the deployment); 130 interrupted (resumable).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable

import click

from .. import __version__
from ..errors import MuranoFlowError
from . import logs
from .catalogue import COMMANDS
from .config import default_map, name_variables


class LazyGroup(click.Group):
    """A group whose commands are imported when one is used (:data:`COMMANDS`)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        #: Called with each command's name and the command once it is imported.
        self.on_load: list[Callable[[str, click.Command], None]] = []

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attr, _ = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(f"{__package__}.{module}"), attr)
            self.add_command(command, cmd_name)
            for hook in self.on_load:
                hook(cmd_name, command)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click lists commands, from the table's short help (nothing imported)."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        # A stand-in with the table's help shortens it exactly as the command would.
        rows = [(name, (self.commands.get(name) or click.Command(name, help=COMMANDS[name][2]))
                 .get_short_help_str(limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


#: The journal used when neither --store nor MURANO_FLOW_STORE says otherwise.
DEFAULT_STORE = "sqlite:///.murano-flow/journal.db"
#: The broker used when neither --broker nor MURANO_FLOW_BROKER says otherwise.
DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F"
#: Exit code of an internal error (sysexits' EX_SOFTWARE): 1 means "the deployment failed".
EXIT_INTERNAL = 70


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="murano-flow")
@click.option("--store", envvar="MURANO_FLOW_STORE", default=DEFAULT_STORE, show_default=True,
              help="Journal URL.")
@click.option("--home", envvar="MURANO_FLOW_HOME", default=".murano-flow", show_default=True,
              help="Directory for local hosts' files and action logs.")
@click.option("--broker", envvar="MURANO_FLOW_BROKER", default=DEFAULT_BROKER,
              show_default=True, help="RabbitMQ URL for agent hosts.")
@click.option("-v", "--verbose", count=True,
              help="Log more: -v murano-flow's info, -vv its debug log, -vvv the libraries' too.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Log lines as text, or as one JSON object each.")
@click.pass_context
def cli(ctx: click.Context, store: str, home: str, broker: str, verbose: int,
        log_format: str) -> None:
    """murano-flow: deploy multi-host services from blueprint state graphs."""
    from .common import Settings

    logs.configure(verbose, log_format)
    ctx.obj = Settings(store, home, broker)


def main() -> None:
    """Console-script entry point."""
    name_variables(cli)
    try:
        try:
            defaults = default_map(cli)
        except MuranoFlowError as exc:
            from .render import printable

            click.echo(printable(f"error: {exc}"), err=True)
            sys.exit(exc.exit_code)
        cli.main(prog_name="murano-flow", standalone_mode=True, default_map=defaults)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: say so plainly, without a wall of traceback
        if os.environ.get("MURANO_FLOW_DEBUG"):
            raise
        from .render import printable

        click.echo(printable(f"internal error: {type(exc).__name__}: {exc}\n"
                             "  (set MURANO_FLOW_DEBUG=1 for the traceback, and please report "
                             "it)"), err=True)
        sys.exit(EXIT_INTERNAL)
