"""References to nodes: ``State``, ``entity.State``, ``entity[2].State``, ``entity[*].State``.

An entity of a part is named by its part's path: ``ad.dc[0].Promoted`` is state
Promoted of member 0 of entity dc of part ad; ``sql[1].node.Deployed`` one of counted
part sql's members. A part's own ``Deployed`` is ``ad.Deployed``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_REF = re.compile(
    rf"^(?:(?P<entity>(?:{_NAME}(?:\[[0-9]+\])?\.)*{_NAME})(?:\[(?P<index>\*|[0-9]+)\])?\.)?"
    r"(?P<state>[A-Za-z_][A-Za-z0-9_]*)$"
)


@dataclass(frozen=True, slots=True)
class Ref:
    """A parsed reference; ``entity`` None means the referencing entity itself."""

    #: The entity, with its part's path when it is in a part (``ad.dc``, ``sql[1].node``).
    entity: str | None
    index: str | None  # None, '*' or digits
    state: str


def parse_ref(text: str) -> Ref | None:
    """Parse ``text`` or return None when it is not a reference."""
    m = _REF.match(text.strip())
    if not m:
        return None
    return Ref(m["entity"], m["index"], m["state"])


def instance_name(group: str, index: int | None) -> str:
    """``web[2]`` for a member of a counted entity, ``web`` otherwise."""
    return group if index is None else f"{group}[{index}]"


def node_name(group: str, index: int | None, state: str) -> str:
    """The unique name of a node: ``instance.State``."""
    return f"{instance_name(group, index)}.{state}"
