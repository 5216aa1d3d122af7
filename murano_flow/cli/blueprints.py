"""``murano-flow validate | plan | graph``: reading a blueprint, with no side effects."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from ..blueprint import Blueprint, load_blueprint
from ..engine import plans
from ..errors import MuranoFlowError, UsageError
from ..graph.stategraph import StateGraph
from .common import command, format_option, given_params, params_options
from .render import console, emit, table


@click.command()
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


@click.command()
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


@click.command()
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
