"""References to nodes: ``State``, ``entity.State``, ``entity[2].State``, ``entity[*].State``."""

from __future__ import annotations

import re
from dataclasses import dataclass

_REF = re.compile(
    r"^(?:(?P<entity>[A-Za-z_][A-Za-z0-9_-]*)(?:\[(?P<index>\*|[0-9]+)\])?\.)?"
    r"(?P<state>[A-Za-z_][A-Za-z0-9_]*)$"
)


@dataclass(frozen=True, slots=True)
class Ref:
    """A parsed reference; ``entity`` None means the referencing entity itself."""

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
