"""``murano-flow agent ...``: run a guest agent, or generate one's config and user-data."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import click

from ..app.userdata import (
    LINUX_HOME,
    WINDOWS_HOME,
    AgentWheel,
    agent_wheel,
    cloud_init,
    powershell,
)
from ..engine import plans
from ..errors import MuranoFlowError, UsageError
from ..transports.amqp import agent_queue, agent_secret
from ..wire.protocol import RESULTS_EXCHANGE
from ..wire.signing import agent_key
from .common import Settings, command, journaled_blueprint, rows_format_options
from .render import emit_rows, rows_wanted

#: Nova's limit on user-data (65,535 bytes, base64-encoded by the client: 3/4 of it raw).
USER_DATA_LIMIT = 65535 * 3 // 4


@click.group()
def agent() -> None:
    """Guest agents: run one, or make the config and user-data for one."""


@agent.command("run", context_settings={"ignore_unknown_options": True})
@click.option("--config", required=True, type=click.Path(dir_okay=False),
              help="The agent's JSON config (from `murano-flow agent config`).")
@click.option("--debug", is_flag=True, help="Log pika's own messages too.")
def run(config: str, debug: bool) -> None:
    """Run a guest agent on this machine until SIGTERM/Ctrl-C."""
    from murano_flow_agent.__main__ import main as agent_main

    sys.exit(agent_main(["--config", config, *(["--debug"] if debug else [])]))


@agent.command("list")
@rows_format_options
@click.pass_obj
@command
def list_agents(settings: Settings, fmt: str, columns: tuple[str, ...]) -> None:
    """The agents of the deployments' amqp hosts: connected now or not (asked of the
    broker), plans waiting in their queues, the states each holds."""
    from ..app.agents import agents

    with settings.existing_store() as store:
        rows = [vars(a) for a in agents(settings, store)]
    if not rows and fmt == "table":
        click.echo("no deployment has an amqp host")
        return
    chosen = rows_wanted(fmt, columns, AGENT_FIELDS, AGENT_COLUMNS)
    emit_rows(rows, fmt, chosen or list(AGENT_COLUMNS if fmt == "table" else AGENT_FIELDS))


#: The fields of `agent list`, and those its table shows.
AGENT_FIELDS = ("queue", "connected", "consumers", "waiting", "holds", "deployments", "note")
AGENT_COLUMNS = ("queue", "connected", "waiting", "holds", "note")


@agent.command("wheel")
@click.option("-o", "--output", "directory", default="dist", show_default=True,
              type=click.Path(file_okay=False), help="Directory to write the wheel to.")
def wheel(directory: str) -> None:
    """Build the guest agent's own wheel (Python 3.9+, pika; tens of KB) from this
    installation, and print its path and SHA-256 for `agent config --agent-wheel`."""
    from ..app.agentwheel import build

    try:
        path = build(Path(directory))
    except OSError as exc:
        click.echo(f"error: cannot write {exc.filename or directory}: {exc.strerror}", err=True)
        sys.exit(2)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    click.echo(f"{path} {sha}")


@agent.command("config")
@click.argument("entity", required=False)
@click.option("-d", "--deployment", help="Deployment whose blueprint names ENTITY's queue.")
@click.option("--queue", help="The agent's queue, instead of ENTITY and --deployment.")
@click.option("--agent-broker", help="Broker URL as the VM sees it (default: --broker).")
@click.option("--spool", help="Agent's working directory on the VM "
                              f"(default: {LINUX_HOME} or {WINDOWS_HOME} with --user-data).")
@click.option("--log-file", help="Agent's log file (default: agent.log in the spool).")
@click.option("--heartbeat", type=click.FloatRange(0.1, 3600), default=5.0, show_default=True,
              help="Seconds between heartbeats while a plan runs.")
@click.option("--reboot-command", help="Program and arguments that reboot the VM "
                                       "(space-separated; no shell). Default: the OS's.")
@click.option("--user-data", type=click.Choice(["none", "cloud-init", "powershell"]),
              default="none", show_default=True,
              help="Print VM user-data that installs the agent, instead of the bare config.")
@click.option("--agent-wheel", metavar="URL|FILE",
              help="With --user-data: the murano-flow wheel the VM installs the agent from, "
                   "an http(s) URL it downloads or a file carried in the user-data (never a "
                   "package name from a public index).")
@click.option("--agent-sha256", metavar="HEX",
              help="The wheel's SHA-256; the VM refuses any other. Needed for a URL, "
                   "checked for a file.")
@click.option("--index-url", metavar="URL",
              help="Package index the VM's pip takes the agent's dependencies from "
                   "(default: the VM's pip configuration).")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write to this file (mode 0600) instead of stdout.")
@click.option("--broker-user", "user_script", type=click.Path(dir_okay=False),
              help="Give the agent a broker login of its own (it may read only its queue and "
                   "publish only its results) and write the rabbitmqctl commands that create "
                   "it to this file (mode 0600): run it where rabbitmqctl reaches the "
                   "broker, then delete it.")
@click.pass_obj
def config(settings: Any, entity: str | None, deployment: str | None, queue: str | None,
           agent_broker: str | None, spool: str | None, log_file: str | None, heartbeat: float,
           reboot_command: str | None, user_data: str, agent_wheel: str | None,
           agent_sha256: str | None, index_url: str | None, output: str | None,
           user_script: str | None) -> None:
    """Print an agent's config (broker URL, queue, key), or user-data embedding it.

    The key is derived from this engine's agent secret and the queue, so only the
    agent on that queue can read its plans and sign its results. Without
    --broker-user the agent logs in to the broker as the engine does, and can then
    read any queue: give each VM its own login.
    """
    try:
        wheel = _wheel_for(user_data, agent_wheel, agent_sha256, index_url)
        queue = queue or _queue_of(settings, entity, deployment)
        broker = agent_broker or settings.broker_url
        if user_script:
            broker = _own_login(broker, queue, Path(user_script))
        home = WINDOWS_HOME if user_data == "powershell" else LINUX_HOME
        spool = spool or (home if user_data != "none" else str(Path("agent-spool").resolve()))
        from murano_flow_agent.config import AgentConfig

        cfg = AgentConfig(
            broker=broker, queue=queue,
            key=agent_key(agent_secret(settings.home), queue), spool=Path(spool),
            heartbeat=heartbeat,
            log_file=Path(log_file) if log_file else Path(spool) / "agent.log")
        if reboot_command:
            cfg = replace(cfg, reboot_command=tuple(reboot_command.split()))
    except MuranoFlowError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:  # the --broker-user file cannot be written
        click.echo(f"error: cannot write {exc.filename}: {exc.strerror}", err=True)
        sys.exit(2)
    text = cfg.to_json()
    if wheel is not None:
        text = (cloud_init if user_data == "cloud-init" else powershell)(text, wheel)
        if len(text) > USER_DATA_LIMIT:
            click.echo(f"note: this user-data is {len(text) // 1024} KiB, over the "
                       f"{USER_DATA_LIMIT // 1024} KiB OpenStack accepts: serve the wheel and "
                       "give its URL to --agent-wheel", err=True)
    if output:
        try:
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            click.echo(f"error: cannot write {output}: {exc.strerror}", err=True)
            sys.exit(2)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        click.echo(f"wrote {output} (agent queue {queue}); it holds the agent's key", err=True)
    else:
        click.echo(text, nl=False)
    if not user_script:
        click.echo("note: this agent logs in with the engine's broker login, which can read "
                   "every agent's queue; --broker-user gives it one of its own", err=True)


def _own_login(broker: str, queue: str, script: Path) -> str:
    """The agent's broker URL with a login of its own; writes the commands creating it."""
    parts = urlsplit(broker)
    user, password = f"mf-agent.{queue}", secrets.token_urlsafe(24)
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user, safe='')}:{password}@{host}" + (f":{parts.port}" if parts.port else "")
    text = "\n".join([
        "#!/bin/sh",
        f"# murano-flow: a broker login for the agent on queue {queue}: it may configure and",
        f"# read only that queue, and publish only to the {RESULTS_EXCHANGE} exchange.",
        "set -e",
        f"printf '%s\\n' {shlex.quote(password)} | rabbitmqctl add_user {shlex.quote(user)}",
        f"rabbitmqctl set_permissions -p {shlex.quote(vhost)} {shlex.quote(user)} "
        f"{shlex.quote(_only(queue))} {shlex.quote(_only(RESULTS_EXCHANGE))} "
        f"{shlex.quote(_only(queue))}", ""])
    fd = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    click.echo(f"wrote {script}: run it where rabbitmqctl reaches the broker (it creates the "
               f"login {user}), then delete it", err=True)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _only(name: str) -> str:
    """A RabbitMQ permission pattern matching ``name`` and nothing else."""
    return f"^{re.escape(name)}$"


def _wheel_for(user_data: str, location: str | None, sha256: str | None,
               index_url: str | None) -> AgentWheel | None:
    if user_data == "none":
        if location or sha256 or index_url:
            raise UsageError("--agent-wheel, --agent-sha256 and --index-url go with "
                             "--user-data cloud-init|powershell")
        return None
    if not location:
        raise UsageError(f"--user-data {user_data} needs --agent-wheel: the wheel (URL or "
                         "file) the VM installs the agent from; build it with: "
                         "murano-flow agent wheel")
    return agent_wheel(location, sha256, index_url)


def _queue_of(settings: Any, entity: str | None, deployment: str | None) -> str:
    """The queue the journaled blueprint of ``deployment`` gives ``entity``'s host."""
    if not entity or not deployment:
        raise UsageError("give ENTITY and --deployment, or --queue",
                         hint="e.g. murano-flow agent config 'vm[0]' --deployment ID")
    with settings.store() as store:
        dep = store.deployment(deployment)
        recorded = {n.name: n.outputs for n in store.nodes(deployment)}
    bp = journaled_blueprint(dep, {})
    nodes = [n for n in bp.nodes.values() if n.instance == entity]
    if not nodes:
        known = sorted({n.instance for n in bp.nodes.values()})
        raise UsageError(f"deployment {deployment} has no entity '{entity}'",
                         hint=f"entities: {', '.join(known)}")
    node = nodes[0]
    ctx = plans.context(bp, node, deployment, lambda name: recorded.get(name, {}))
    where = plans.target(node, ctx)
    if where.kind != "amqp":
        raise UsageError(f"'{entity}' is reached over {where.kind}, not through an agent",
                         hint="set its host to {transport: amqp, queue: ...} in the blueprint")
    return agent_queue(where.fields)
