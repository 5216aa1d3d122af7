"""Transports: how plans reach hosts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConnectError
from .base import Transport
from .local import LocalTransport
from .stub import StubTransport

__all__ = ["LocalTransport", "StubTransport", "Transport", "open_transport"]

if TYPE_CHECKING:
    from .amqp import Broker

#: Transports the blueprint format knows but this release cannot use yet.
PLANNED = {"ssh": "paramiko", "winrm": "pywinrm"}


def open_transport(kind: str, host: dict[str, Any], *, root: Path,
                   broker: Callable[[], Broker] | None = None) -> Transport:
    """A transport for one rendered host mapping; raise ConnectError if unusable."""
    if kind == "local":
        return LocalTransport(root, str(host.get("name", "local")))
    if kind == "amqp":
        from .amqp import AgentTransport, Limits, agent_queue

        if broker is None:
            raise ConnectError("no broker is configured for agent hosts")
        # The host's own settings first: a mistake there needs no broker to be reported.
        queue, limits = agent_queue(host), Limits.from_options(host.get("options"))
        return AgentTransport(broker(), queue, limits)
    if kind in PLANNED:
        raise ConnectError(
            f"the '{kind}' transport ({PLANNED[kind]}) is not available in this release",
            host=str(host.get("address", host.get("name", ""))),
            hint="validate, plan and graph work for this blueprint; deploy it once the "
                 f"'{kind}' transport ships, or set host: local to try it on this machine",
        )
    raise ConnectError(f"unknown transport '{kind}'")
