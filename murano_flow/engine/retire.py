"""The blueprint that undoes the states a re-deploy dropped (scale-in: ``web_count`` 2 ->
1 drops ``web[1]``): only those states, from the blueprint they came from, each requiring
only the dropped states it required, so they are undone in reverse dependency order once
the rest of the deployment converged without them."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..blueprint import Blueprint, parse_blueprint
from ..wire.masking import MASK


def retiring_blueprint(spec: dict[str, Any], current: Blueprint, present: set[str]
                       ) -> Blueprint:
    """The dropped states of ``spec`` (journaled by the re-deploy) that still have rows
    (``present``), as a blueprint of their own. Secret values, never journaled, are the
    current blueprint's (the same parameters, given again to this deploy)."""
    values = {k: v for k, v in (spec.get("params") or {}).items() if v != MASK}
    values.update({p.name: current.values[p.name] for p in current.parameters.values()
                   if p.secret and p.name in current.values})
    old = parse_blueprint(spec["text"], spec.get("path") or current.path, values,
                          strict=False, scripts=spec.get("scripts") or {})
    names = [n for n in spec.get("nodes") or [] if n in old.nodes and n in present]
    nodes = {n: dataclasses.replace(old.nodes[n], requires=tuple(
        r for r in old.nodes[n].requires if r in names), direct=False, on_success=(),
        on_error=(), on_complete=()) for n in names}
    return dataclasses.replace(old, nodes=nodes, targets=())
