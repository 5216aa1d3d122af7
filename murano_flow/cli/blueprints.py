"""``murano-flow validate | plan | graph | bundle``: reading a blueprint, with no side
effects."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..blueprint import Blueprint, load_blueprint
from ..engine import plans
from ..errors import MuranoFlowError, UsageError
from ..graph.stategraph import StateGraph
from ..wire.masking import Masker
from .common import Settings, command, exists, format_option, given_params, params_options
from .render import console, emit, table


@click.command()
@click.argument("blueprint", type=click.Path(dir_okay=False, allow_dash=True))
@params_options
@format_option
@command
def validate(blueprint: str, params: tuple[str, ...], params_file: str | None, fmt: str) -> None:
    """Check a blueprint; report every problem as file:line:column (exit 2 if any)."""
    try:
        bp = load_blueprint(blueprint, given_params(params, params_file, blueprint))
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
    click.echo(f"{bp.path}: OK — {summary['nodes']} states in {summary['entities']} "
               f"entities, {summary['targets']} targets")
    if bp.assumed:
        click.echo(f"  (no value given for: {', '.join(bp.assumed)}; placeholders were used)")


@click.command()
@click.argument("blueprint", type=click.Path(dir_okay=False, allow_dash=True))
@params_options
@click.option("--expand", is_flag=True, help="Show the entities as expanded (entity types "
              "laid out, parts' entities by full name) and each part's parameters, as YAML.")
@format_option
@command
def plan(blueprint: str, params: tuple[str, ...], params_file: str | None, expand: bool,
         fmt: str) -> None:
    """Show the waves of states that can run in parallel, with their hosts."""
    bp = load_blueprint(blueprint, given_params(params, params_file, blueprint))
    if expand:
        emit(expanded(bp), "json" if fmt == "json" else "yaml")
        return
    waves = StateGraph(bp).waves()
    started_by = _transitions_into(bp)
    data = [[{"node": n.name, "host": _host_label(bp, n) if n.action else "",
              "action": n.action is not None, "wait": n.wait.kind if n.wait else None,
              "requires": list(n.requires), "after": started_by.get(n.name, [])}
             for n in wave] for wave in waves]
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


def expanded(bp: Blueprint) -> dict[str, Any]:
    """What the blueprint expanded to, secrets masked: every entity (its type laid out)
    by full name, and each part's file and parameters (those bound to outputs as the
    expressions that give them at run time)."""
    mask = Masker(bp.secrets).data
    parts = {scope: {"blueprint": part.file, "parameters": mask({
        **part.values, **{name: template for name, template, _ in part.bound}})}
        for scope, part in bp.scopes.items()}
    return {"blueprint": bp.name, "parameters": mask(bp.values), "parts": parts,
            "entities": mask(bp.expanded)}


def _transitions_into(bp: Blueprint) -> dict[str, list[str]]:
    """Per state of a direct flow: the transitions that start it ('on_error of db.A')."""
    into: dict[str, list[str]] = {}
    for node in bp.nodes.values():
        for key in ("on_success", "on_error", "on_complete"):
            for name in getattr(node, key):
                into.setdefault(name, []).append(f"{key} of {node.name}")
    return into


def _kind(row: dict[str, Any]) -> str:
    """'action', 'sync', 'wait (signal)' or 'action after signal', for plan's table, with
    the transitions that start a state of a direct flow."""
    what = "action" if row["action"] else "sync"
    if row["wait"]:
        what = f"action after {row['wait']}" if row["action"] else f"wait ({row['wait']})"
    return what + (f" ({', '.join(row['after'])})" if row["after"] else "")


def _host_label(bp: Blueprint, node: Any) -> str:
    """The host key as the engine will compute it; templates reading outputs stay as text."""
    try:
        return plans.target(node, plans.context(bp, node, "", None)).key
    except MuranoFlowError:
        host = dict(node.host.fields)
        label = str(host.get("name") or host.get("address"))
        return f"{node.host.transport}:<{label.replace('{{', '').replace('}}', '').strip()}>"


@click.command()
@click.argument("blueprint", metavar="BLUEPRINT|DEPLOYMENT")
@params_options
@click.option("--format", "fmt", type=click.Choice(["dot", "png", "svg"]), default="dot",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write here instead of stdout (required for png/svg).")
@click.pass_obj
@command
def graph(settings: Settings, blueprint: str, params: tuple[str, ...], params_file: str | None,
          fmt: str, output: str | None) -> None:
    """Export the state graph (Graphviz DOT; png/svg need Graphviz's 'dot'). Given a
    deployment's id instead of a blueprint file, each state is coloured by its status."""
    dot = None if params or params_file else _journaled_dot(settings, blueprint)
    if dot is None:
        given = given_params(params, params_file, blueprint)
        dot = StateGraph(load_blueprint(blueprint, given)).to_dot()
    if fmt == "dot":
        if output:
            Path(output).write_text(dot, "utf-8")
        else:
            click.echo(dot, nl=False)
        return
    if not output:
        raise UsageError(f"--format {fmt} writes a binary file: give -o FILE")
    from ..graph.render import rendered

    Path(output).write_bytes(rendered(dot, fmt))
    click.echo(f"wrote {output}")


def _journaled_dot(settings: Settings, name: str) -> str | None:
    """The graph of the deployment ``name``, coloured by status, when ``name`` is no file
    but a deployment in the journal; else None."""
    if name == "-" or Path(name).exists() or settings.missing_journal() is not None:
        return None
    from ..app.report import deployment_dot

    with settings.existing_store() as store:
        return deployment_dot(store, name) if exists(store, name) else None


@click.command()
@click.argument("blueprint", type=click.Path(dir_okay=False, exists=True))
@command
def bundle(blueprint: str) -> None:
    """Print BLUEPRINT with every file it reads as the JSON the API's upload takes
    (POST /v1/blueprints): murano-flow bundle farm.yaml | curl --data @- ..."""
    bp = load_blueprint(blueprint)
    click.echo(json.dumps({"path": Path(blueprint).name, "text": bp.text,
                           "files": dict(sorted(bp.scripts.items()))}))
