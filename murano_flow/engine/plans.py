"""Turning a node of the graph into a Plan for its host, rendering its expressions."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..blueprint.expressions import analyze, is_template, render
from ..blueprint.refs import instance_name
from ..blueprint.spec import ActionSpec, Blueprint, Node
from ..errors import ExpressionError
from ..wire.protocol import Plan

#: Transports a host may name.
TRANSPORTS = ("local", "ssh", "winrm", "amqp")


@dataclass(frozen=True)
class Target:
    """Where a plan runs: transport kind, rendered host fields, and the host's key."""

    kind: str
    fields: dict[str, Any]
    key: str


OutputsOf = Callable[[str], dict[str, Any]]
OutputRefs = tuple[tuple[str, tuple[str, ...], bool], ...]


def _outputs(refs: OutputRefs, outputs_of: OutputsOf) -> dict[str, Any]:
    outputs: dict[str, Any] = {}
    for ref_text, sources, many in refs:
        values = [outputs_of(s) for s in sources]
        outputs[ref_text] = values if many else values[0]
    return outputs


def params_of(bp: Blueprint, scope: str, deployment: str, outputs_of: OutputsOf | None
              ) -> dict[str, Any]:
    """The parameters the part ``scope`` sees: its values, and those bound to outputs of
    the including blueprint's states rendered in that blueprint's context (placeholders
    when ``outputs_of`` is None: nothing has run)."""
    part = bp.scopes.get(scope)
    if part is None:
        return bp.values
    if not part.bound or outputs_of is None:
        return part.values
    ctx = {"params": params_of(bp, part.parent, deployment, outputs_of), "index": part.index,
           "deployment": deployment}
    values = dict(part.values)
    for name, template, refs in part.bound:
        values[name] = render(template, {**ctx, "outputs": _outputs(refs, outputs_of)})
    return values


def context(bp: Blueprint, node: Node, deployment: str, outputs_of: OutputsOf | None
            ) -> dict[str, Any]:
    """The expression context of ``node``: its part's parameters, its index, the outputs
    it reads and its entity type's vars. Without ``outputs_of`` (nothing has run: plan,
    graph), what depends on outputs is left out."""
    outputs = _outputs(node.output_refs, outputs_of) if outputs_of is not None else {}
    ctx = {"params": params_of(bp, node.scope, deployment, outputs_of), "index": node.index,
           "group": node.group, "entity": node.instance, "count": bp.counts.get(node.group),
           "deployment": deployment, "outputs": outputs}
    if node.vars:
        ctx["vars"] = {k: render(v, ctx) for k, v in node.vars
                       if outputs_of is not None or not _reads_outputs(v)}
    return ctx


def _reads_outputs(value: Any) -> bool:
    return is_template(value) and bool(analyze(value).outputs)


def target(node: Node, ctx: dict[str, Any]) -> Target:
    """Render the node's host; local hosts default to one per entity instance."""
    fields = {k: render(v, ctx) for k, v in node.host.fields}
    kind = render(node.host.transport, ctx)
    if kind not in TRANSPORTS:
        raise ExpressionError(f"host transport {kind!r} is not one of {', '.join(TRANSPORTS)}")
    if kind == "local":
        fields.setdefault("name", instance_name(node.group, node.index))
    ident = fields.get("queue") if kind == "amqp" else None
    ident = ident or fields.get("name") or fields.get("address") or node.instance
    return Target(kind, fields, f"{kind}:{ident}")


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def plan(node: Node, spec: ActionSpec, kind: str, attempt: int, ctx: dict[str, Any],
         extra_env: dict[str, str] | None = None, secrets: tuple[str, ...] = ()) -> Plan:
    """The Plan running ``spec`` (the node's action, check or undo) for ``attempt``;
    ``secrets`` are the values its host masks in what it writes of the run."""
    deployment = ctx["deployment"]
    env = {k: _env_value(render(v, ctx)) for k, v in spec.env} if spec.env else {}
    env["MURANO_FLOW_ENTITY"] = node.instance
    env["MURANO_FLOW_STATE"] = node.state
    env["MURANO_FLOW_INDEX"] = "" if node.index is None else str(node.index)
    if extra_env:
        env.update(extra_env)
    params = {
        "deployment": deployment, "node": node.name, "entity": node.instance,
        "index": node.index, "state": node.state, "parameters": ctx["params"],
        "inputs": render(spec.params, ctx) if spec.params is not None else {},
        "outputs": ctx["outputs"],
    }
    return Plan(
        id=f"{deployment}/{node.name}/{kind}/{attempt}", deployment=deployment, node=node.name,
        kind=kind, attempt=attempt, script_type=spec.shell, body=spec.body,
        args=tuple([_env_value(render(a, ctx)) for a in spec.args]), env=env, params=params,
        timeout=spec.timeout, reboot=node.reboot and kind == "action",
        # an undo may ask too (leaving a domain takes a reboot); a probe never reboots
        reboot_if_asked=node.reboot_if_asked and kind in ("action", "undo"), stamp=time.time(),
        idempotent=node.idempotent or kind == "check", secrets=secrets,
    )


def digest(plan: Plan, where: Target, mask: Callable[[Any], Any]) -> str:
    """A fingerprint of what a run of ``plan`` depends on: script, arguments, environment,
    declared inputs, the outputs it reads and its host (not timeouts, attempts or secrets,
    which ``mask`` hides), so a re-deploy can tell which states changed."""
    raw = (plan.script_type, plan.body, plan.args, plan.env, plan.params["inputs"],
           plan.params["outputs"], where.key, where.fields)
    # repr, not JSON: the dicts are built in the blueprint's order, so it is as stable and
    # several times cheaper (this runs for every action dispatched)
    return hashlib.sha256(repr(mask(raw)).encode()).hexdigest()[:32]
