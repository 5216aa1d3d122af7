"""A deployment's journal rows made from a blueprint: for a new deployment, or a new shape
for an existing one when the same deployment id is deployed again (converge).

A re-deploy keeps every state the new blueprint still has, with its progress (status,
outputs, the digest of the inputs it last ran with); adds the new ones as pending;
and drops states that are gone. The engine then re-examines the kept states in
dependency order (see ``Engine.redeploy``).
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import replace
from typing import Any

from ..blueprint.spec import Blueprint
from ..errors import UsageError
from ..states import UNSETTLED, NodeState
from ..store.base import DeploymentRecord, NodeRecord
from ..wire.masking import Masker

#: States of a dropped node that mean something was done on a host and not undone.
_DONE = frozenset({NodeState.REACHED, NodeState.SKIPPED, NodeState.FAILED,
                   NodeState.UNDO_FAILED})


def new_id(bp: Blueprint) -> str:
    """A fresh deployment id for ``bp``."""
    return f"{bp.name}-{secrets.token_hex(4)}"


#: What a deployment id may be: it names files, queues and log directories.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_id(dep_id: str) -> str:
    """``dep_id`` if it can name a deployment; UsageError saying what is allowed if not."""
    if not _ID.fullmatch(dep_id) or ".." in dep_id:
        shown = dep_id if len(dep_id) <= 60 else dep_id[:57] + "..."
        raise UsageError(f"bad deployment id {shown!r}",
                         hint="an id is 1 to 128 letters, digits, '.', '_' or '-', starting "
                              "with a letter or digit (no '/', no '..')")
    return dep_id


def deployment_record(bp: Blueprint, dep_id: str, source: dict[str, Any] | None, *,
                      on_failure: str | None = None, deadline: float | None = None,
                      created: float | None = None) -> DeploymentRecord:
    """The pending deployment row for ``bp`` (secret values masked).

    Args:
        on_failure: overrides the blueprint's ``on_failure``.
        deadline: seconds from now it must be done in (default: the blueprint's, if any).
        created: the original creation time, for a re-deploy.
    """
    now = time.time()
    masker = Masker(bp.secrets)
    secret_names = {p.name for p in bp.parameters.values() if p.secret}
    params = {k: ("******" if k in secret_names else masker.data(v))
              for k, v in bp.values.items()}
    limit = deadline if deadline is not None else bp.deadline
    settings = {"on_failure": on_failure or bp.on_failure,
                "deadline": now + limit if limit else None}
    return DeploymentRecord(dep_id, bp.name, bp.path, bp.digest, "pending", created or now,
                            now, params, list(bp.targets), "", source or {}, settings=settings)


def node_records(bp: Blueprint, dep_id: str) -> list[NodeRecord]:
    """Fresh pending node rows for every node of ``bp``."""
    return [NodeRecord(dep_id, n.name, n.instance, n.state, requires=list(n.requires),
                       has_action=n.action is not None) for n in bp.nodes.values()]


def reshape(old: DeploymentRecord, nodes: list[NodeRecord], bp: Blueprint,
            source: dict[str, Any] | None, *, on_failure: str | None = None,
            deadline: float | None = None) -> tuple[DeploymentRecord, list[NodeRecord], str]:
    """The rows of ``old`` re-deployed from ``bp``, and a one-line summary.

    States that did something and that ``bp`` no longer has are kept, with the blueprint
    they came from, to be undone once the rest converged (see ``Engine._retire``).

    Raises:
        UsageError: actions may still be running, an earlier removal is unfinished, or
            states to undo have no journaled blueprint to undo them with.
    """
    if old.blueprint != bp.name:
        raise UsageError(f"deployment {old.id} is of blueprint '{old.blueprint}', not "
                         f"'{bp.name}'", hint="pick another --id for a new deployment")
    busy = [n.name for n in nodes if n.status in UNSETTLED]
    if busy:
        raise UsageError(f"deployment {old.id} has actions that may still be running "
                         f"({', '.join(busy[:3])})",
                         hint=f"finish them first: murano-flow resume {old.id} (or rollback)")
    kept = {n.name: n for n in nodes}
    retiring = retiring_of(old)
    back = sorted(set(retiring) & set(bp.nodes))
    if retiring and (back or any(n.name not in bp.nodes and n.name not in retiring
                                 and n.status in _DONE and n.has_action for n in nodes)):
        raise UsageError(f"deployment {old.id} is still removing {len(retiring)} states an "
                         f"earlier deploy dropped ({', '.join(retiring[:3])})",
                         hint=f"finish that first: murano-flow resume {old.id}")
    # Dropped states that did something on a host are undone after the rest converges,
    # by the blueprint they came from (journaled here: a crash in between resumes it).
    gone = [n.name for n in nodes if n.name not in bp.nodes and n.status in _DONE
            and n.has_action]
    if gone and not (old.source or {}).get("text"):
        raise UsageError(f"the new blueprint drops {len(gone)} states of deployment {old.id} "
                         f"that were done on their hosts ({', '.join(gone[:4])}), and the "
                         "journal has no blueprint to undo them with",
                         hint="roll the deployment back first, or deploy under another --id")
    dep = deployment_record(bp, old.id, source, on_failure=on_failure, deadline=deadline,
                            created=old.created)
    dep = replace(dep, state=old.state, reason=old.reason)
    if gone:
        dep.settings[RETIRING] = retiring_spec(old, gone) if not retiring else \
            old.settings[RETIRING]
    rows = []
    for fresh in node_records(bp, old.id):
        was = kept.get(fresh.name)
        rows.append(fresh if was is None else
                    replace(was, requires=fresh.requires, has_action=fresh.has_action))
    rows += [kept[name] for name in gone]
    added = sum(1 for n in bp.nodes if n not in kept)
    dropped = sum(1 for n in kept if n not in bp.nodes)
    return dep, rows, (f"deployed again from {bp.path}: {added} new states, "
                       f"{dropped} dropped" + (f" ({len(gone)} to undo once the rest "
                                               "converged)" if gone else "")
                       + f", {len(rows) - added - len(gone)} to re-examine")


#: Key in DeploymentRecord.settings: states a re-deploy dropped that are still to be undone,
#: with the blueprint they came from.
RETIRING = "retiring"


def retiring_spec(old: DeploymentRecord, names: list[str]) -> dict[str, Any]:
    """What undoing ``names`` of ``old`` needs later: its blueprint's text and values."""
    src = old.source or {}
    return {"text": src.get("text", ""), "scripts": src.get("scripts", {}),
            "path": old.path, "params": old.params, "nodes": names}


def retiring_of(dep: DeploymentRecord) -> list[str]:
    """The dropped states ``dep`` still has to undo (none for most)."""
    return list((dep.settings.get(RETIRING) or {}).get("nodes") or [])
