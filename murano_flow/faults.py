"""Fault injection: make this process die with SIGKILL at a chosen point of its work.

Crash tests need to kill the engine at exact places — in the middle of a journal
transaction, between a commit and handing out plans — not only at random times.
``MURANO_FLOW_CRASH_AT=point:N[,point:N...]`` makes the N-th pass through
``crash_point(point)`` kill the process, as ``kill -9`` would: no cleanup, no
``finally`` blocks, open transactions abandoned. Unset (always, outside tests),
a crash point costs one dictionary lookup.

Points: ``store.commit`` (journal rows written, transaction not committed),
``engine.dispatched`` (running rows committed, plans not yet handed out),
``engine.completed`` (outcomes applied in memory, not yet committed),
``engine.closed`` (a run's transports closed, its end not yet journaled).
"""

from __future__ import annotations

import os
import signal

#: Environment variable naming the crash points of this process.
ENV = "MURANO_FLOW_CRASH_AT"


def _parse(spec: str) -> dict[str, int]:
    points: dict[str, int] = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        name, _, count = item.rpartition(":")
        if name and count.isdigit() and int(count) > 0:
            points[name] = int(count)
    return points


_armed = _parse(os.environ.get(ENV, ""))


def crash_point(name: str) -> None:
    """Die here with SIGKILL if this is the armed pass through ``name``."""
    if not _armed or name not in _armed:
        return
    _armed[name] -= 1
    if _armed[name] == 0:
        os.kill(os.getpid(), signal.SIGKILL)
