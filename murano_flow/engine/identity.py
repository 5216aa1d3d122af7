"""Which engine process drives a deployment, and whether it is still alive.

An engine writes its identity into the deployment row, with a lease that it renews
(:mod:`murano_flow.engine.lease`), when it starts driving it, and clears both when it stops.
After a ``kill -9`` or a power loss the identity stays behind: the engine is gone
once its lease runs out, or at once when it ran on this host and its process is dead
(:func:`alive`). The identity is ``host/pid/start``: the start time (in clock ticks
since boot, from ``/proc``) guards against a recycled pid.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from ..store.base import DeploymentRecord


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


def elsewhere(owner: str) -> bool:
    """Whether the engine ``owner`` ran on another machine than this one."""
    return bool(owner) and owner.partition("/")[0] != socket.gethostname()


def driving(dep: DeploymentRecord) -> bool:
    """Whether an engine may still be driving ``dep``: one is named, its lease has not
    run out, and it is not known to be dead."""
    if not dep.owner or (dep.lease and dep.lease < time.time()):
        return False
    return alive(dep.owner) is not False


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
