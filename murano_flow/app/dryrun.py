"""What a deploy would do, without doing it: per state, run, probe, keep or undo, and why.

The same decisions a converge takes (``engine.rows.reshape`` for what it refuses, the
digest of each state's rendered action and host for what changed), taken on the journal
as it is now; nothing runs and nothing is written. Inputs that differ are listed field
by field, old and new, with secrets masked; a state reading outputs of a state that runs
again can only be decided once that one has run, and is said to be.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from ..blueprint import Blueprint
from ..blueprint.spec import Node
from ..engine import plans, rows
from ..errors import ExpressionError, MuranoFlowError, NotFound
from ..states import SATISFIED
from ..store.base import DeploymentRecord, NodeRecord, Store
from ..store.sealing import clear_outputs
from ..wire.masking import Masker
from .deployments import chosen_states
from .settings import Settings, journaled_blueprint

#: What a state would do. The first three change hosts; "decided then" may.
RUN, UNDO, FORGET, PROBE, KEEP, LATER = ("run", "undo", "forget", "probe", "keep",
                                         "decided then")
CHANGES = (RUN, UNDO, LATER)


@dataclass(frozen=True)
class Step:
    """One state's fate: ``would`` (run, probe, keep, undo, forget, decided then), why,
    and the inputs that changed as (field, old, new), masked."""

    state: str
    would: str
    why: str
    diff: tuple[tuple[str, Any, Any], ...] = ()


@dataclass
class DryRun:
    """A deploy's steps, in the blueprint's order (dropped states last)."""

    deployment: str | None
    blueprint: str
    steps: list[Step] = field(default_factory=list)

    @property
    def changes(self) -> bool:
        """Whether the deploy would (or may) change a host."""
        return any(s.would in CHANGES for s in self.steps)

    def counts(self) -> dict[str, int]:
        """How many states would do each thing."""
        out: dict[str, int] = {}
        for s in self.steps:
            out[s.would] = out.get(s.would, 0) + 1
        return out


def dry_run(settings: Settings, store: Store | None, bp: Blueprint, given: dict[str, Any],
            deployment_id: str | None, *, redo: tuple[str, ...] = (),
            with_dependents: bool = False, limit: tuple[str, ...] = ()) -> DryRun:
    """What ``deploy bp [--id deployment_id] [--redo ...] [--limit ...]`` would do now
    (``store`` None: there is no journal yet, so it would be a new deployment).

    Raises:
        UsageError: the deploy would be refused (and why), as the deploy itself would.
    """
    try:
        dep = store.deployment(deployment_id) if store and deployment_id else None
    except NotFound:
        dep = None
    if dep is None:
        chosen_states(None, bp, None, redo, with_dependents, limit, False)  # refused if any
        return DryRun(deployment_id, bp.name, [
            Step(n.name, RUN if n.action else KEEP,
                 "a new deployment" if n.action else "no action: reached once required")
            for n in bp.nodes.values()])
    assert store is not None
    records = store.nodes(dep.id)
    chosen, inside = chosen_states(store, bp, dep.id, redo, with_dependents, limit, False)
    rows.reshape(dep, records, bp, None)  # what the deploy would refuse, refused here
    old_bp = _old_blueprint(dep)
    return DryRun(dep.id, bp.name, _steps(settings, bp, old_bp, dep, records, set(chosen),
                                          None if inside is None else set(inside)))


def _old_blueprint(dep: DeploymentRecord) -> Blueprint | None:
    """The blueprint as last deployed, with its journaled values (secrets, never
    journaled, as placeholders: they are masked in the diff anyway)."""
    try:
        return journaled_blueprint(dep, {}, strict=False)
    except MuranoFlowError:  # an old journal, or it no longer parses: no field diff
        return None


def _steps(settings: Settings, bp: Blueprint, old_bp: Blueprint | None,
           dep: DeploymentRecord, records: list[NodeRecord], redo: set[str],
           inside: set[str] | None) -> list[Step]:
    by_name = {r.name: r for r in records}
    secret = settings.secret()
    outputs = {r.name: clear_outputs(r.outputs, secret) for r in records}
    masker = Masker(bp.secrets)
    steps: list[Step] = []
    again: set[str] = set()  # states that run again: what reads them is decided then
    for name in _in_order(bp):
        node, rec = bp.nodes[name], by_name.get(name)
        if name in redo:
            step = Step(name, RUN, "asked: --redo")
        elif inside is not None and name not in inside:
            step = Step(name, KEEP, "outside --limit: kept as it is")
        else:
            step = _step(bp, old_bp, dep, node, rec, outputs, again, masker)
        if step.would in (RUN, LATER):
            again.add(name)
        steps.append(step)
    for rec in records:
        if rec.name not in bp.nodes:
            done = rec.status in SATISFIED and rec.has_action
            steps.append(Step(rec.name, UNDO if done else FORGET,
                              "dropped from the blueprint" if done else
                              f"dropped from the blueprint ({rec.status}: nothing to undo)"))
    return steps


def _in_order(bp: Blueprint) -> list[str]:
    """Node names, each after the states it requires (the order converge examines them)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for req in bp.nodes[name].requires:
            visit(req)
        order.append(name)

    for name in bp.nodes:
        visit(name)
    return order


def _step(bp: Blueprint, old_bp: Blueprint | None, dep: DeploymentRecord, node: Node,
          rec: NodeRecord | None, outputs: dict[str, dict[str, Any] | None], again: set[str],
          masker: Masker) -> Step:
    if rec is None:
        return Step(node.name, RUN if node.action else KEEP, "a new state")
    if rec.status not in SATISFIED:
        return Step(node.name, RUN if node.action else KEEP, f"not in place ({rec.status})")
    if node.action is None:
        return Step(node.name, KEEP, "no action")
    read: set[str] = set()
    try:
        new = _rendered(bp, node, dep.id, rec.attempt, outputs, read)
    except ExpressionError as exc:
        return Step(node.name, RUN, f"its inputs cannot be rendered now ({exc.message}): the "
                                    "deploy fails it")
    waits_for = sorted(read & again)
    if waits_for:
        return Step(node.name, LATER, f"reads outputs of {', '.join(waits_for)}, which runs "
                                      "again: its inputs are known once that has run")
    changed = plans.digest(new[0], new[1], masker.data) != rec.inputs
    if changed:
        diff = _diff(old_bp, bp, node, dep.id, rec.attempt, outputs, new)
        fields = ", ".join(f for f, _, _ in diff) or "its script, host or the outputs it reads"
        return Step(node.name, RUN, f"inputs changed: {fields}", diff)
    plan = new[0]
    raw = (plan.args, plan.env, plan.params["inputs"], plan.params["outputs"])
    # A secret is never journaled, so a new value of it is no change to see.
    secret = "; it reads a secret, whose new value would not be seen: --redo it to apply " \
             "one" if masker.data(raw) != raw else ""
    if node.check is not None:
        return Step(node.name, PROBE, "inputs unchanged; its check probe runs again (the "
                                      f"action too if the probe fails){secret}")
    return Step(node.name, KEEP, f"inputs unchanged since it was reached{secret}")


def _rendered(bp: Blueprint, node: Node, deployment: str, attempt: int,
              outputs: dict[str, dict[str, Any] | None], read: set[str]
              ) -> tuple[Any, plans.Target]:
    def outputs_of(name: str) -> dict[str, Any]:
        read.add(name)
        values = outputs.get(name)
        if values is None:
            raise ExpressionError(f"the outputs of {name} are not at hand")
        return values

    assert node.action is not None
    ctx = plans.context(bp, node, deployment, outputs_of)
    return plans.plan(node, node.action, "action", attempt, ctx), plans.target(node, ctx)


def _diff(old_bp: Blueprint | None, bp: Blueprint, node: Node, deployment: str, attempt: int,
          outputs: dict[str, dict[str, Any] | None], new: tuple[Any, plans.Target]
          ) -> tuple[tuple[str, Any, Any], ...]:
    old_node = old_bp.nodes.get(node.name) if old_bp is not None else None
    if old_bp is None or old_node is None or old_node.action is None:
        return ()
    try:
        old = _rendered(old_bp, old_node, deployment, attempt, outputs, set())
    except ExpressionError:
        return ()
    both = Masker((*old_bp.secrets, *bp.secrets)).data
    return tuple((f, both(a), both(b)) for f, a, b in _fields(old, new) if both(a) != both(b))


def _fields(old: tuple[Any, plans.Target], new: tuple[Any, plans.Target]
            ) -> list[tuple[str, Any, Any]]:
    """The digested parts of two rendered plans, side by side, field by field."""
    (op, ot), (np_, nt) = old, new
    pairs: list[tuple[str, Any, Any]] = [
        ("script", *_changed_lines(op.body, np_.body)),
        ("shell", op.script_type, np_.script_type),
        ("args", list(op.args), list(np_.args)),
        ("host", ot.key, nt.key),
    ]
    pairs += _keyed("env", op.env, np_.env)
    pairs += _keyed("inputs", op.params["inputs"], np_.params["inputs"])
    pairs += _keyed("host", ot.fields, nt.fields)
    pairs += _keyed("outputs", op.params["outputs"], np_.params["outputs"])
    return pairs


def _keyed(prefix: str, old: Any, new: Any) -> list[tuple[str, Any, Any]]:
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [(prefix, old, new)]
    return [(f"{prefix}.{k}", old.get(k), new.get(k)) for k in {**old, **new}]


def _changed_lines(old: str, new: str, most: int = 3) -> tuple[str, str]:
    """The first lines where two scripts differ (``line N: ...``), each side."""
    if old == new:
        return "", ""
    a, b = old.splitlines(), new.splitlines()
    for group in difflib.SequenceMatcher(None, a, b).get_grouped_opcodes(0):
        _, i1, i2, j1, j2 = group[0]
        return (_lines(a, i1, min(i2, i1 + most)), _lines(b, j1, min(j2, j1 + most)))
    return "(whitespace)", "(whitespace)"


def _lines(lines: list[str], start: int, end: int) -> str:
    return "; ".join(f"line {k + 1}: {lines[k].strip()}" for k in range(start, end)) \
        or f"(no line {start + 1})"
