"""Drift: asking every reached state's ``check`` probe whether it still holds.

The observer Heat convergence planned: the journal says what was reached; the
probes say what is true now. A state whose probe fails has *drifted*; ``--fix``
re-converges it (its action runs again, without asking the probe that just
failed) and re-examines its dependents as a re-deploy does, and nothing else.

Probes run through the states' own transports, one host at a time per host and
hosts in parallel, with plan ids of their own (``.../check/<ms>``) so a probe
never collides with a journaled attempt. Each verdict is journaled as an event.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..blueprint.spec import Blueprint, Node
from ..engine import Engine, Verdict, identity, plans
from ..engine.executor import last_line
from ..engine.run import Listener
from ..errors import MuranoFlowError, UsageError
from ..states import SATISFIED
from ..store.base import DeploymentRecord, Event, NodeRecord, Store
from ..store.sealing import clear_outputs, unreadable
from ..transports.base import Transport
from ..wire.masking import Masker
from ..wire.protocol import Plan
from .settings import Settings, journaled_blueprint

#: Verdicts: the probe passed, failed (drift), or could not be asked.
HOLDS, DRIFTED, UNKNOWN = "holds", "drifted", "unknown"


def _readable(rec: NodeRecord, secret: str | None) -> dict[str, Any]:
    values = clear_outputs(rec.outputs, secret)
    if values is None:
        raise UsageError(unreadable(rec.name))
    return values


@dataclass
class Probe:
    """What one state's check probe said."""

    node: str
    host: str
    verdict: str
    detail: str = ""


def observe(store: Store, transports: Callable[[str, dict[str, Any]], Transport], bp: Blueprint,
            deployment: str, workers: int = 16, secret: str | None = None) -> list[Probe]:
    """Run the check probe of every reached state of ``deployment``; journal the verdicts.

    Raises:
        UsageError: an engine is driving the deployment now (its states are moving).
    """
    dep = store.deployment(deployment)
    if identity.driving(dep):
        raise UsageError(f"deployment {dep.id} is being driven by the engine "
                         f"{identity.describe(dep.owner)}; check it once that is done")
    records = {r.name: r for r in store.nodes(deployment)}
    masker = Masker(bp.secrets)
    by_host: dict[str, list[tuple[Node, plans.Target, Plan]]] = defaultdict(list)
    probes: list[Probe] = []
    stamp = int(time.time() * 1000)
    for name, node in bp.nodes.items():
        rec = records.get(name)
        if node.check is None or rec is None or rec.status not in SATISFIED:
            continue
        try:
            ctx = plans.context(bp, node, deployment, lambda n: _readable(records[n], secret))
            where = plans.target(node, ctx)
            plan = plans.plan(node, node.check, "check", stamp, ctx, secrets=tuple(bp.secrets))
        except MuranoFlowError as exc:
            probes.append(Probe(name, "", UNKNOWN, str(exc)))
            continue
        by_host[where.key].append((node, where, plan))
    opened: list[Transport] = []

    def run_host(items: list[tuple[Node, plans.Target, Plan]]) -> list[Probe]:
        out = []
        try:
            transport = transports(items[0][1].kind, items[0][1].fields)
            opened.append(transport)
        except MuranoFlowError as exc:
            return [Probe(n.name, w.key, UNKNOWN, str(exc)) for n, w, _ in items]
        for node, where, plan in items:
            try:
                res = transport.send(plan)
            except MuranoFlowError as exc:
                out.append(Probe(node.name, where.key, UNKNOWN, str(exc)))
                continue
            if res.ok:
                out.append(Probe(node.name, where.key, HOLDS))
            elif res.status == "failed":
                why = last_line(res.stderr_tail) or last_line(res.stdout_tail)
                detail = f"probe exit code {res.exit_code}" + (f": {why}" if why else "")
                out.append(Probe(node.name, where.key, DRIFTED, masker.text(detail)))
            else:
                out.append(Probe(node.name, where.key, UNKNOWN,
                                 masker.text(res.message or res.status)))
        return out

    try:
        with ThreadPoolExecutor(max(1, min(workers, len(by_host) or 1))) as pool:
            for found in pool.map(run_host, by_host.values()):
                probes.extend(found)
    finally:
        for transport in opened:
            transport.close()
    _journal(store, dep.id, dep.state, records, probes)
    return sorted(probes, key=lambda p: list(bp.nodes).index(p.node))


def _journal(store: Store, deployment: str, state: str, records: dict[str, NodeRecord],
             probes: list[Probe]) -> None:
    now = time.time()
    events = [Event(deployment, now, "drift" if p.verdict == DRIFTED else "checked", p.node,
                    records[p.node].status, records[p.node].attempt,
                    p.detail or f"check probe: {p.verdict}") for p in probes
              if p.verdict != HOLDS]
    drifted = sum(p.verdict == DRIFTED for p in probes)
    unknown = sum(p.verdict == UNKNOWN for p in probes)
    events.append(Event(deployment, now, "observed", status=state,
                        message=f"{len(probes)} check probes: {drifted} drifted, "
                                f"{unknown} could not be asked"))
    store.commit(deployment, [], events)


def drifted(probes: list[Probe]) -> list[str]:
    """Names of the states whose probe failed."""
    return [p.node for p in probes if p.verdict == DRIFTED]


def look(settings: Settings, store: Store, deployment: str, given: dict[str, Any],
         workers: int) -> tuple[DeploymentRecord, Blueprint, list[Probe]]:
    """Ask every reached state's check probe of a succeeded deployment whether it holds.

    Raises:
        UsageError: the deployment did not succeed (drift is measured from a success).
    """
    dep = store.deployment(deployment)
    if dep.state != "succeeded":
        raise UsageError(f"deployment {dep.id} is '{dep.state}': only a succeeded "
                         "deployment is checked for drift",
                         hint=f"'murano-flow resume {dep.id}' finishes it first")
    bp = journaled_blueprint(dep, given)
    return dep, bp, observe(store, settings.transports, bp, dep.id, workers, settings.secret())


def repair(settings: Settings, store: Store, bp: Blueprint, deployment: str,
           found: list[str], workers: int, listener: Listener | None) -> Verdict:
    """Run the drifted states' actions again, and re-examine what depends on them."""
    engine = Engine(store, settings.transports, workers=workers, listener=listener,
                    messages=settings.message_waits, secret=settings.secret())
    return engine.deploy(bp, deployment, drifted=found)
