"""The ``murano-flow`` command line: a thin layer that wires stores, transports and the engine.

Exit codes (DESIGN.md section 3): 0 success; 1 the deployment failed or was rolled
back; 2 invalid input; 3 infrastructure unreachable; 70 an internal error (a bug in
murano-flow, never a verdict on the deployment); 130 interrupted (resumable).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import __version__, owner, plans
from .blueprint import Blueprint, load_blueprint
from .cliutil import (
    Settings,
    command,
    duration,
    exists,
    format_option,
    given_params,
    journaled_blueprint,
    params_options,
)
from .engine import DEFAULT_WORKERS, Engine
from .errors import MuranoFlowError, UsageError
from .graph import StateGraph
from .lifecycle import allowed
from .notify import notify
from .observecli import check, observe_command
from .opscli import cancel, fsck, pause
from .output import (
    RECAP_COLUMNS,
    console,
    deployment_dict,
    emit,
    event_dict,
    node_dict,
    printable,
    recap_rows,
    stamp,
    styled,
    table,
)
from .progress import Dashboard, LinePrinter, event_line
from .schedule import schedule
from .sealing import seal
from .servicecli import db, engine
from .signalcli import signal as signal_command
from .states import ACTIVE
from .store import DEFAULT_STORE, Store
from .store.base import DeploymentRecord
from .transports.amqp import DEFAULT_BROKER, agent_secret

log = logging.getLogger(__name__)

#: Exit code for each final deployment state.
EXIT_BY_STATE = {"succeeded": 0, "failed": 1, "rolled_back": 0, "cancelled": 1,
                 "interrupted": 130}
#: Exit code of an internal error (sysexits' EX_SOFTWARE): 1 means "the deployment failed".
EXIT_INTERNAL = 70


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="murano-flow")
@click.option("--store", envvar="MURANO_FLOW_STORE", default=DEFAULT_STORE, show_default=True,
              help="Journal URL (env MURANO_FLOW_STORE).")
@click.option("--home", envvar="MURANO_FLOW_HOME", default=".murano-flow", show_default=True,
              help="Directory for local hosts' files and action logs (env MURANO_FLOW_HOME).")
@click.option("--broker", envvar="MURANO_FLOW_BROKER", default=DEFAULT_BROKER,
              show_default=True, help="RabbitMQ URL for agent hosts (env MURANO_FLOW_BROKER).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, store: str, home: str, broker: str, verbose: int) -> None:
    """murano-flow: deploy multi-host services from blueprint state graphs."""
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # pika logs every failed connection attempt, with tracebacks: only at -vv. Our own
    # transport says once that the broker is out of reach and once that it is back.
    logging.getLogger("pika").setLevel(level if verbose >= 2 else logging.CRITICAL)
    ctx.obj = Settings(store, home, broker)


for _command in (cancel, pause, fsck, signal_command, check, observe_command, notify,
                 schedule, engine, db):
    cli.add_command(_command)


# -- blueprint commands (no side effects) -----------------------------------


@cli.command()
@click.argument("blueprint", type=click.Path(dir_okay=False))
@params_options
@format_option
@command
def validate(blueprint: str, params: tuple[str, ...], params_file: str | None, fmt: str) -> None:
    """Check a blueprint; report every problem as file:line:column (exit 2 if any)."""
    try:
        bp = load_blueprint(blueprint, given_params(params, params_file))
    except MuranoFlowError as exc:
        if fmt != "table" and hasattr(exc, "diagnostics"):
            emit({"valid": False, "problems": [d.__dict__ for d in exc.diagnostics]}, fmt)
            sys.exit(exc.exit_code)
        raise
    summary = {"valid": True, "blueprint": bp.name, "nodes": len(bp.nodes),
               "entities": len({n.instance for n in bp.nodes.values()}),
               "targets": len(bp.targets), "assumed_parameters": list(bp.assumed)}
    if fmt != "table":
        emit(summary, fmt)
        return
    click.echo(f"{blueprint}: OK — {summary['nodes']} states in {summary['entities']} "
               f"entities, {summary['targets']} targets")
    if bp.assumed:
        click.echo(f"  (no value given for: {', '.join(bp.assumed)}; placeholders were used)")


@cli.command()
@click.argument("blueprint", type=click.Path(dir_okay=False))
@params_options
@format_option
@command
def plan(blueprint: str, params: tuple[str, ...], params_file: str | None, fmt: str) -> None:
    """Show the waves of states that can run in parallel, with their hosts."""
    bp = load_blueprint(blueprint, given_params(params, params_file))
    waves = StateGraph(bp).waves()
    data = [[{"node": n.name, "host": _host_label(bp, n) if n.action else "",
              "action": n.action is not None, "wait": n.wait.kind if n.wait else None,
              "requires": list(n.requires)} for n in wave] for wave in waves]
    if fmt != "table":
        emit({"blueprint": bp.name, "waves": data}, fmt)
        return
    rows = [[k + 1 if j == 0 else "", n["node"], n["host"], _kind(n)]
            for k, wave in enumerate(data) for j, n in enumerate(wave)]
    out = console()
    out.print(table(f"{bp.name}: {len(bp.nodes)} states in {len(waves)} waves",
                    ("wave", "state", "host", "kind"), rows))
    if bp.assumed:
        out.print(f"(placeholders used for: {', '.join(bp.assumed)})")


def _kind(row: dict[str, Any]) -> str:
    """'action', 'sync', 'wait (signal)' or 'action after signal', for plan's table."""
    what = "action" if row["action"] else "sync"
    if row["wait"]:
        return f"action after {row['wait']}" if row["action"] else f"wait ({row['wait']})"
    return what


def _host_label(bp: Blueprint, node: Any) -> str:
    """The host key as the engine will compute it; templates reading outputs stay as text."""
    try:
        return plans.target(node, plans.context(bp, node, "", lambda _: {})).key
    except MuranoFlowError:
        host = dict(node.host.fields)
        label = str(host.get("name") or host.get("address"))
        return f"{node.host.transport}:<{label.replace('{{', '').replace('}}', '').strip()}>"


@cli.command()
@click.argument("blueprint", type=click.Path(dir_okay=False))
@params_options
@click.option("--format", "fmt", type=click.Choice(["dot", "png", "svg"]), default="dot",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write here instead of stdout (required for png/svg).")
@command
def graph(blueprint: str, params: tuple[str, ...], params_file: str | None, fmt: str,
          output: str | None) -> None:
    """Export the state graph (Graphviz DOT; png/svg need Graphviz's 'dot')."""
    dot = StateGraph(load_blueprint(blueprint, given_params(params, params_file))).to_dot()
    if fmt == "dot":
        if output:
            Path(output).write_text(dot, "utf-8")
        else:
            click.echo(dot, nl=False)
        return
    exe = shutil.which("dot")
    if exe is None:
        raise UsageError(f"--format {fmt} needs Graphviz's 'dot' program",
                         hint="install graphviz (apt-get install graphviz) or use --format dot")
    if not output:
        raise UsageError(f"--format {fmt} writes a binary file: give -o FILE")
    proc = subprocess.run([exe, f"-T{fmt}", "-o", output], input=dot.encode(),
                          capture_output=True, check=False)
    if proc.returncode:
        raise UsageError(f"dot failed: {proc.stderr.decode(errors='replace').strip()}")
    click.echo(f"wrote {output}")


# -- deployment commands ---------------------------------------------------


@cli.command()
@click.argument("blueprint", type=click.Path(dir_okay=False))
@params_options
@click.option("-w", "--workers", type=click.IntRange(1, 1024), default=DEFAULT_WORKERS,
              show_default=True, help="Actions running at once (one per host at a time).")
@click.option("--detach", is_flag=True,
              help="Hand it to the engine services (or, with none running, to a background "
                   "engine); print the deployment id.")
@click.option("--id", "deployment_id", help="Use this deployment id instead of a generated one.")
@click.option("--on-failure", type=click.Choice(["stop", "continue", "rollback"]),
              help="What a failed state does (default: the blueprint's on_failure, else stop).")
@click.option("--deadline", metavar="DURATION",
              help="Stop and fail the deployment if it is not done within this (e.g. 2h).")
@click.option("--new", "force_new", is_flag=True,
              help="Start a new deployment even if one of this blueprint is unfinished.")
@format_option
@click.pass_obj
@command
def deploy(settings: Settings, blueprint: str, params: tuple[str, ...], params_file: str | None,
           workers: int, detach: bool, deployment_id: str | None, on_failure: str | None,
           deadline: str | None, force_new: bool, fmt: str) -> None:
    """Deploy a blueprint: run every state's action once its requirements are reached.

    With --id of an existing deployment, deploy it again (converge): only new states,
    states whose inputs changed and states whose check probe fails are run.
    """
    given = given_params(params, params_file)
    bp = load_blueprint(blueprint, given, strict=True)
    source: dict[str, Any] = {"text": bp.text, "scripts": bp.scripts}
    if detach:
        _seal_secrets(settings, bp, given, source)
    with settings.store() as store:
        if not force_new and deployment_id is None:
            _refuse_if_unfinished(store, bp.name)
        engine = Engine(store, settings.transports, workers=workers,
                        messages=settings.message_waits, secret=settings.secret())
        what = "converge" if deployment_id and exists(store, deployment_id) else "deploy"
        if what == "converge":
            assert deployment_id is not None
            dep = engine.reshape(bp, deployment_id, source, on_failure=on_failure,
                                 deadline=duration(deadline, "--deadline"))
        else:
            dep = engine.create(bp, deployment_id, source, on_failure=on_failure,
                                deadline=duration(deadline, "--deadline"))
        if detach:
            _submit(settings, store, dep.id, given, workers, what)
            return
        _drive(settings, engine, bp, dep, fmt, what)


def _submit(settings: Settings, store: Store, dep_id: str, given: dict[str, Any],
            workers: int, what: str) -> None:
    """Ask the engine services to drive ``dep_id``; with none running, start an engine in
    the background for it (whichever comes first takes it: the lease decides)."""
    store.set_request(dep_id, what)
    engines = store.engines()
    if engines:
        click.echo(f"{dep_id}: submitted to the engine services ({len(engines)} running)",
                   err=True)
    else:
        _spawn_background(settings, dep_id, given, workers, what)
    click.echo(dep_id)


def _seal_secrets(settings: Settings, bp: Blueprint, given: dict[str, Any],
                  source: dict[str, Any]) -> bool:
    """Put the secret parameters given into ``source``, sealed: an engine service elsewhere
    needs them, and they are never journaled in the clear. Whether there were any."""
    secret = {p.name: bp.values[p.name] for p in bp.parameters.values()
              if p.secret and p.name in given}
    if secret:
        source["sealed"] = seal(agent_secret(settings.home), secret)
    return bool(secret)


def _refuse_if_unfinished(store: Store, blueprint: str) -> None:
    """Say how to continue an unfinished deployment of the same blueprint, instead of
    starting a second one next to it."""
    for dep in store.deployments(1000):
        if dep.blueprint == blueprint and dep.state in (*ACTIVE, "interrupted"):
            live = owner.driving(dep)
            doing = (f"being driven by {owner.describe(dep.owner)}" if live
                     else f"{dep.state}, its engine stopped")
            raise UsageError(
                f"deployment {dep.id} of blueprint '{blueprint}' is unfinished ({doing})",
                hint=(f"'murano-flow status {dep.id}' shows its progress" if live else
                      f"continue it: murano-flow resume {dep.id}; undo it: murano-flow "
                      f"rollback {dep.id}") + "; or pass --new to start another one")


def _journaled_command(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options of the commands that continue a journaled deployment."""
    f = command(f)
    f = click.pass_obj(f)
    f = format_option(f)
    f = click.option("-w", "--workers", type=click.IntRange(1, 1024), default=DEFAULT_WORKERS,
                     show_default=True)(f)
    f = params_options(f)
    f = click.option("--detach", is_flag=True, help="Hand it to the engine services (or a "
                                                      "background engine) and return.")(f)
    return click.argument("deployment")(f)


def _rerun_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--rerun", multiple=True, metavar="STATE",
        help="Run this state in doubt afresh instead of asking for the outcome of its last "
             "attempt (repeatable). Only when you know it did not run, or may run again.")(f)


@cli.command()
@click.option("--deadline", metavar="DURATION", help="A new deadline, counted from now.")
@click.option("--converge", is_flag=True, hidden=True)  # a detached re-deploy's own engine
@_rerun_option
@_journaled_command
def resume(settings: Settings, deployment: str, detach: bool, params: tuple[str, ...],
           params_file: str | None, workers: int, fmt: str, deadline: str | None,
           converge: bool, rerun: tuple[str, ...]) -> None:
    """Continue a deployment that was interrupted, paused, cancelled or failed, or whose
    engine died: reached states stay reached, actions still running and states in doubt
    are asked for again by their plan ids (never run twice), except those named by
    --rerun."""
    _continue(settings, deployment, given_params(params, params_file), workers, fmt,
              "converge" if converge else "deploy", duration(deadline, "--deadline"), detach,
              rerun)


@cli.command()
@_rerun_option
@_journaled_command
def rollback(settings: Settings, deployment: str, detach: bool, params: tuple[str, ...],
             params_file: str | None, workers: int, fmt: str, rerun: tuple[str, ...]) -> None:
    """Undo a deployment: run 'undo' actions in reverse dependency order."""
    _continue(settings, deployment, given_params(params, params_file), workers, fmt, "rollback",
              detach=detach, rerun=rerun)


def _continue(settings: Settings, deployment: str, given: dict[str, Any], workers: int,
              fmt: str, what: str, deadline: float | None = None, detach: bool = False,
              rerun: tuple[str, ...] = ()) -> None:
    if rerun and detach:
        raise UsageError("--rerun cannot be combined with --detach yet",
                         hint="run it in the foreground; it can be detached afterwards")
    with settings.store() as store:
        dep = store.deployment(deployment)
        live = owner.driving(dep)
        if live and what == "deploy" and dep.control.startswith("pause"):
            store.set_control(dep.id, "")
            click.echo(f"{dep.id}: resume requested; the engine {owner.describe(dep.owner)} "
                       "that paused it continues it")
            return
        if live:
            raise UsageError(f"deployment {dep.id} is being driven by the engine "
                             f"{owner.describe(dep.owner)}",
                             hint="'murano-flow pause' or 'cancel' asks it to stop")
        if dep.state == "rolling_back":  # its engine died while undoing: finish that
            what = "rollback"
        elif dep.state == "failed" and what == "deploy" and any(
                n.status == "undo_failed" or (n.status == "in_doubt" and n.intention == "revert")
                for n in store.nodes(dep.id)):
            click.echo(f"{dep.id}: its rollback failed; resume retries the rollback "
                       f"(to go forward instead: murano-flow deploy BLUEPRINT --id {dep.id})",
                       err=True)
            what = "rollback"
        if dep.state not in ACTIVE and what != "converge" and not _continuable(dep.state, what):
            raise UsageError(f"deployment {dep.id} is '{dep.state}': nothing to "
                             f"{'resume' if what == 'deploy' else 'roll back'}",
                             hint=f"'murano-flow status {dep.id}' shows where it stands"
                                  + ("; deploy it again with 'murano-flow deploy BLUEPRINT "
                                     f"--id {dep.id}'" if what == "deploy" else ""))
        if deadline is not None:
            dep.settings["deadline"] = time.time() + deadline
            store.reshape(dep, store.nodes(dep.id), [])
        bp = journaled_blueprint(dep, given)
        if detach:
            if _seal_secrets(settings, bp, given, dep.source):
                store.reshape(dep, store.nodes(dep.id), [])
            _submit(settings, store, dep.id, given, workers, what)
            return
        engine = Engine(store, settings.transports, workers=workers,
                        messages=settings.message_waits, secret=settings.secret())
        _drive(settings, engine, bp, dep, fmt, what, rerun, seen=dep.state)


def _continuable(state: str, what: str) -> bool:
    if what == "deploy":  # resume continues unfinished work; re-deploying converges
        return state in ("failed", "interrupted", "cancelled", "pending")
    return allowed("deployment", state, "rollback")


def _spawn_background(settings: Settings, dep_id: str, given: dict[str, Any],
                      workers: int, what: str) -> None:
    log_dir = settings.home / "engine"
    log_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "murano_flow", "--store", settings.store_url, "--home",
            str(settings.home), "rollback" if what == "rollback" else "resume", dep_id,
            "--workers", str(workers), "--params-file", "-",
            *(["--converge"] if what == "converge" else [])]
    with (log_dir / f"{dep_id}.log").open("ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=out,
                                start_new_session=True)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(given).encode())  # secrets travel by pipe, never argv
    proc.stdin.close()


def _drive(settings: Settings, engine: Engine, bp: Blueprint, dep: DeploymentRecord, fmt: str,
           what: str, rerun: tuple[str, ...] = (), seen: str | None = None) -> None:
    instances: dict[str, int] = {}
    for n in bp.nodes.values():
        instances[n.instance] = instances.get(n.instance, 0) + 1
    tty = sys.stdout.isatty() and fmt == "table"
    listener: Any = Dashboard(instances, f"{what} {dep.id}") if tty else (
        LinePrinter() if fmt == "table" else None)
    engine.listener = listener
    if fmt == "table" and not tty:
        click.echo(f"{what} {dep.id}: {len(bp.nodes)} states, {len(instances)} entities")
    previous = {s: signal.signal(s, lambda *_: engine.request_stop())
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if isinstance(listener, Dashboard):
            with listener:
                final = _run(engine, bp, dep.id, what, rerun, seen)
        else:
            final = _run(engine, bp, dep.id, what, rerun, seen)
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    _report(settings, final, fmt)
    code = 130 if engine.interrupted else EXIT_BY_STATE.get(final.state, 1)
    if what in ("deploy", "converge") and final.state == "rolled_back":
        code = 1
    if final.state == "failed" and engine.infrastructure_failure:
        code = 3
    sys.exit(code)


def _run(engine: Engine, bp: Blueprint, dep_id: str, what: str, rerun: tuple[str, ...],
         seen: str | None) -> DeploymentRecord:
    if what == "rollback":
        return engine.rollback(bp, dep_id, rerun=rerun, seen=seen)
    return engine.deploy(bp, dep_id, converge=what == "converge", rerun=rerun, seen=seen)


def _report(settings: Settings, dep: DeploymentRecord, fmt: str) -> None:
    with settings.store() as store:
        nodes = store.nodes(dep.id)
    if fmt != "table":
        emit({"deployment": deployment_dict(dep), "nodes": [node_dict(n) for n in nodes]}, fmt)
        return
    out = console()
    out.print(table(f"{dep.id}: {dep.state}", RECAP_COLUMNS, recap_rows(nodes)))
    for n in nodes:
        if n.status in ("failed", "undo_failed", "in_doubt"):
            out.print(styled((n.name, "red"), f" {n.status}: {n.reason}"))
            if n.log_dir:
                out.print(styled(f"  logs: {n.log_dir}"))
    if dep.state == "interrupted":
        out.print(f"interrupted; state saved. Continue: murano-flow resume {dep.id}")
    elif dep.state == "rolling_back":
        out.print(f"interrupted while rolling back; state saved. Continue the rollback: "
                  f"murano-flow rollback {dep.id}")


# -- reading the journal ---------------------------------------------------


@cli.command("list")
@click.option("-n", "--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@format_option
@click.pass_obj
@command
def list_(settings: Settings, limit: int, fmt: str) -> None:
    """List deployments, newest first."""
    with settings.store() as store:
        deps = store.deployments(limit)
    if fmt != "table":
        emit([deployment_dict(d) for d in deps], fmt)
        return
    rows = [[d.id, d.blueprint, d.state, stamp(d.created), stamp(d.updated),
             _short(d.reason)] for d in deps]
    console().print(table(None, ("id", "blueprint", "state", "created", "updated", "reason"),
                          rows))


@cli.command()
@click.argument("deployment")
@click.option("--nodes", "show_nodes", is_flag=True, help="One row per state, not per entity.")
@format_option
@click.pass_obj
@command
def status(settings: Settings, deployment: str, show_nodes: bool, fmt: str) -> None:
    """Show a deployment: per entity (or per state with --nodes)."""
    with settings.store() as store:
        dep, nodes = store.deployment(deployment), store.nodes(deployment)
        driven = owner.driving(dep)
        engines = len(store.engines()) if dep.request and not driven else 0
    if fmt != "table":
        emit({"deployment": deployment_dict(dep), "nodes": [node_dict(n) for n in nodes]}, fmt)
        return
    out = console()
    out.print(styled((dep.id, "bold"), f" ({dep.blueprint}): {dep.state}"
                     + (f" — {dep.reason}" if dep.reason else "")))
    if driven:
        out.print(styled(f"driven by the engine {owner.describe(dep.owner)}"))
    elif dep.request:
        out.print(styled(f"submitted ({dep.request}): waiting for an engine service ("
                         + (f"{engines} running)" if engines else "none is running: start "
                            "one with 'murano-flow engine serve')")))
    if show_nodes:
        rows = [[n.name, n.status, n.attempt or "", n.host, stamp(n.started), stamp(n.finished),
                 n.exit_code if n.exit_code is not None else "", _short(n.reason)]
                for n in nodes]
        out.print(table(None, ("state", "status", "try", "host", "started", "finished", "exit",
                               "reason"), rows))
    else:
        out.print(table(None, RECAP_COLUMNS, recap_rows(nodes)))


@cli.command()
@click.argument("deployment")
@click.option("--follow", is_flag=True, help="Keep printing new events until the end.")
@click.option("--node", help="Only events of this state (e.g. 'web[0].Installed').")
@format_option
@click.pass_obj
@command
def events(settings: Settings, deployment: str, follow: bool, node: str | None,
           fmt: str) -> None:
    """Print the event log of a deployment (JSON lines with -f json --follow)."""
    with settings.store() as store:
        after = 0
        while True:
            batch = store.events(deployment, after)
            shown = [e for e in batch if node is None or e.node == node]
            if fmt == "json" and follow:
                for e in shown:
                    click.echo(json.dumps(event_dict(e)))
            elif fmt != "table" and not follow:
                emit([event_dict(e) for e in shown], fmt)
            else:
                for e in shown:
                    click.echo(event_line(e))
            after = batch[-1].seq if batch else after
            if not follow or (not batch and _nothing_more(store, deployment)):
                return
            time.sleep(0.5 if not batch else 0.05)


def _nothing_more(store: Store, deployment: str) -> bool:
    """Whether no engine will add events to the deployment: it finished, or its engine
    died and no engine service is there to take it over."""
    from .states import FINISHED

    dep = store.deployment(deployment)
    if dep.state in FINISHED:
        return True
    if dep.state in ACTIVE and not owner.driving(dep):
        if dep.request and store.engines():
            return False  # a service takes it over once the dead engine's lease runs out
        click.echo(f"{dep.id} is {dep.state} but its engine is gone: 'murano-flow resume "
                   f"{dep.id}' continues it", err=True)
        return True
    return False


def _short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def main() -> None:
    """Console-script entry point."""
    from .agentcli import agent  # registers `murano-flow agent ...`

    cli.add_command(agent)
    try:
        cli.main(prog_name="murano-flow", standalone_mode=True)
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
