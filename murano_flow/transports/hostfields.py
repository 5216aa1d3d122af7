"""Checks shared by the agentless transports on a rendered ``host:`` mapping."""

from __future__ import annotations

from typing import Any

from ..errors import ConnectError

#: An option's expected type(s).
Types = type | tuple[type, ...]


def address(fields: dict[str, Any], kind: str) -> str:
    """The host's address; ConnectError if it has none."""
    value = fields.get("address")
    if not isinstance(value, str) or not value.strip():
        raise ConnectError(f"a {kind} host needs an address", host=str(fields.get("name", "")),
                           hint="set host.address to the host name or IP address")
    return value.strip()


def options(fields: dict[str, Any], known: dict[str, Types], kind: str,
            where: str) -> dict[str, Any]:
    """The host's ``options``, each known and of its type; ConnectError naming the bad one."""
    found = dict(fields.get("options") or {})
    for key, value in found.items():
        want = known.get(key)
        if want is None:
            raise ConnectError(f"unknown {kind} option '{key}'", host=where,
                               hint="known options: " + ", ".join(sorted(known)))
        if not isinstance(value, want) or (want is not bool and isinstance(value, bool)):
            raise ConnectError(f"{kind} option '{key}' has the wrong type ({value!r})",
                               host=where)
    return found


def port(fields: dict[str, Any], default: int, kind: str, where: str) -> int:
    """The host's TCP port (``default`` if unset); ConnectError if it is not one."""
    try:
        value = int(fields.get("port") or default)
    except (TypeError, ValueError):
        value = 0
    if not 0 < value < 65536:
        raise ConnectError(f"{kind} port {fields.get('port')!r} is not a TCP port", host=where,
                           hint="set host.port to 1-65535")
    return value
