"""Which engine process drives a deployment, and whether it is still alive.

An engine writes its identity into the deployment row when it starts driving it
and clears it when it stops. After a ``kill -9`` or a power loss the identity
stays behind; ``resume`` uses :func:`alive` to tell a crashed engine from one
that is still at work. The identity is ``host/pid/start``: the start time (in
clock ticks since boot, from ``/proc``) guards against a recycled pid.
Several engines on several machines (sharing PostgreSQL) need leases instead;
this check answers only for engines on this host.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def _start_ticks(pid: int) -> str:
    """The process's start time since boot, or '' where /proc cannot tell."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses: split after its end.
    return stat.rpartition(")")[2].split()[19]


def me() -> str:
    """This process's identity."""
    return f"{socket.gethostname()}/{os.getpid()}/{_start_ticks(os.getpid())}"


def describe(owner: str) -> str:
    """``owner`` for people: 'pid 123 on host'."""
    host, _, rest = owner.partition("/")
    return f"pid {rest.partition('/')[0]} on {host}" if rest else owner


def driving(owner: str) -> bool:
    """Whether an engine may still be driving a deployment owned by ``owner``: one is named
    and it is not known to be dead (an engine on another host counts as alive)."""
    return bool(owner) and alive(owner) is not False


def alive(owner: str) -> bool | None:
    """Whether the engine ``owner`` still runs: True, False, or None (another host)."""
    host, pid_text, start = (owner.split("/") + ["", ""])[:3]
    if host != socket.gethostname():
        return None
    try:
        pid = int(pid_text)
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    return not start or _start_ticks(pid) == start
