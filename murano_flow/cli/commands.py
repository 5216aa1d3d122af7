"""The ``murano-flow`` command group: its global options, its commands, its entry point.

The commands parse their arguments, call the application layer (:mod:`murano_flow.app`)
and render what it returns; they never write the journal nor drive an engine themselves.

Exit codes (DESIGN.md section 3): 0 success; 1 the deployment failed or was rolled
back; 2 invalid input; 3 infrastructure unreachable; 70 an internal error (a bug in
murano-flow, never a verdict on the deployment); 130 interrupted (resumable).
"""

from __future__ import annotations

import os
import sys

import click

from .. import __version__
from ..errors import MuranoFlowError
from ..store import DEFAULT_STORE
from ..wire.broker import DEFAULT_BROKER
from . import logs
from .api import serve, token
from .blueprints import bundle, graph, plan, validate
from .common import Settings
from .config import default_map, name_variables
from .deploying import deploy, resume, rollback
from .examples import examples, init
from .history import delete, prune
from .hosts import hosts
from .journal import events, list_, report, status, wait
from .notify import notify
from .observe import check, observe_command
from .ops import cancel, fsck, pause
from .render import printable
from .schedule import schedule
from .service import db, engine
from .signal import signal as signal_command
from .triggers import push, trigger

#: Exit code of an internal error (sysexits' EX_SOFTWARE): 1 means "the deployment failed".
EXIT_INTERNAL = 70


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    logs.configure(verbose, log_format)
    ctx.obj = Settings(store, home, broker)


for _command in (validate, plan, graph, deploy, resume, rollback, list_, status, events, wait,
                 delete, prune, cancel, pause, fsck, signal_command, check, observe_command,
                 notify, schedule, engine, db, hosts, examples, init, serve, token, bundle,
                 report, push, trigger):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    from .agent import agent

    cli.add_command(agent)
    name_variables(cli)
    try:
        try:
            defaults = default_map(cli)
        except MuranoFlowError as exc:
            click.echo(printable(f"error: {exc}"), err=True)
            sys.exit(exc.exit_code)
        cli.main(prog_name="murano-flow", standalone_mode=True, default_map=defaults)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: say so plainly, without a wall of traceback
        if os.environ.get("MURANO_FLOW_DEBUG"):
            raise
        click.echo(printable(f"internal error: {type(exc).__name__}: {exc}\n"
                             "  (set MURANO_FLOW_DEBUG=1 for the traceback, and please report "
                             "it)"), err=True)
        sys.exit(EXIT_INTERNAL)
