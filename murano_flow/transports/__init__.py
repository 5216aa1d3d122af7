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

#: Transports that need optional libraries: kind -> (modules, extra that installs them).
_NEEDS = {"ssh": (("paramiko",), "ssh"), "winrm": (("winrm", "defusedxml"), "winrm")}


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
    if kind in _NEEDS:
        modules, extra = _NEEDS[kind]
        try:
            for module in modules:
                __import__(module)
        except ImportError as exc:
            raise ConnectError(f"{kind} hosts need {exc.name or ' and '.join(modules)}",
                               host=str(host.get("address", host.get("name", ""))),
                               hint=f"pip install 'murano-flow[{extra}]'") from exc
    if kind == "ssh":
        from .ssh import SSHTransport

        return SSHTransport(root, host)
    if kind == "winrm":
        from .winrm import WinRMTransport

        return WinRMTransport(root, host)
    raise ConnectError(f"unknown transport '{kind}'")
