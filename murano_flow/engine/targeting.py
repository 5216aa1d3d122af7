"""Which states an operator's ``--redo`` and ``--limit`` name, and what they imply.

A pattern names a state (``web[1].Configured``), an entity instance (``web[1]``), a
counted entity's every member (``web``), or a part (``ad``); ``*`` stands for any text
(``web[*].Configured``). ``--redo`` runs the named states in place again, even with
nothing changed (a rotated secret is invisible to the journal), optionally with every
state that requires them; ``--limit`` keeps a converge to the states it names: the
others must already be in place and stay as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ..blueprint.spec import Blueprint, Node
from ..errors import UsageError
from ..states import SATISFIED
from ..store.base import NodeRecord


def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(piece) for piece in pattern.split("*")))


def _names_of(node: Node) -> Iterable[str]:
    """The names a pattern may use for ``node``: itself, its instance, its group, parts."""
    yield node.name
    yield node.instance
    yield node.group
    pieces = node.instance.split(".")
    for k in range(1, len(pieces)):
        yield ".".join(pieces[:k])


def matching(bp: Blueprint, patterns: Sequence[str], option: str) -> list[str]:
    """The node names ``patterns`` select, in the blueprint's order.

    Raises:
        UsageError: a pattern selects nothing (saying what exists).
    """
    chosen: list[str] = []
    for pattern in patterns:
        rx = _regex(pattern)
        found = [n.name for n in bp.nodes.values()
                 if any(rx.fullmatch(name) for name in _names_of(n))]
        if not found:
            entities = sorted({n.instance for n in bp.nodes.values()})
            raise UsageError(f"{option} {pattern}: no state, entity or part of the blueprint "
                             f"is called that (entities: {', '.join(entities[:12])}"
                             f"{' …' if len(entities) > 12 else ''})",
                             hint="a state is ENTITY.STATE, e.g. web[0].Configured; "
                                  "* matches any text")
        chosen.extend(f for f in found if f not in chosen)
    return chosen


def dependents(bp: Blueprint, names: Iterable[str]) -> list[str]:
    """Every state that requires one of ``names``, directly or not, in blueprint order."""
    below = set(names)
    grew = True
    while grew:
        grew = False
        for n in bp.nodes.values():
            if n.name not in below and below.intersection(n.requires):
                below.add(n.name)
                grew = True
    return [n for n in bp.nodes if n in below]


def redo_states(bp: Blueprint, records: Sequence[NodeRecord], patterns: Sequence[str],
                with_dependents: bool) -> list[str]:
    """The states ``--redo`` runs again: those named (with their dependents if asked)
    that are in place and have an action.

    Raises:
        UsageError: a pattern selects nothing, or none of it is in place to run again.
    """
    names = matching(bp, patterns, "--redo")
    if with_dependents:
        names = dependents(bp, names)
    status = {r.name: r.status for r in records}
    chosen = [n for n in names if status.get(n) in SATISFIED and bp.nodes[n].action]
    if not chosen:
        raise UsageError(f"--redo {' '.join(patterns)}: none of it is in place with an "
                         "action to run again",
                         hint="a state that is not in place runs anyway; deploy without --redo")
    return chosen


def limited_states(bp: Blueprint, records: Sequence[NodeRecord], patterns: Sequence[str]
                   ) -> list[str]:
    """The states a ``--limit`` run may examine and run.

    Raises:
        UsageError: a pattern selects nothing, or a state outside the limit with an
            action is not in place (the run would have to leave it unfinished).
    """
    inside = matching(bp, patterns, "--limit")
    status = {r.name: r.status for r in records}
    dropped = [r.name for r in records if r.name not in bp.nodes and r.has_action
               and r.status not in ("pending", "undone")]
    if dropped:
        raise UsageError(f"--limit {' '.join(patterns)}: this deploy would also remove "
                         f"{len(dropped)} states the blueprint no longer has ({dropped[0]})",
                         hint="remove them in a deploy without --limit")
    missing = [n.name for n in bp.nodes.values() if n.name not in inside and n.action
               and status.get(n.name) not in SATISFIED]
    if missing:
        raise UsageError(f"--limit {' '.join(patterns)} leaves {len(missing)} states outside "
                         f"it that are not in place ({', '.join(missing[:4])}"
                         f"{' …' if len(missing) > 4 else ''})",
                         hint="a limited run only re-converges states of a deployment whose "
                              "other states are in place: widen --limit, or deploy without it")
    return inside
