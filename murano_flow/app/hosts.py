"""Which deployment holds each host, and handing a host over (see
:mod:`murano_flow.engine.ownership` for the rule)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..engine import identity
from ..engine.ownership import RELEASED
from ..errors import UsageError
from ..store.base import Event, Store


@dataclass(frozen=True)
class Holding:
    """A host, the deployment holding it, and whether that one handed it over."""

    host: str
    deployment: str
    released: bool


def holdings(store: Store) -> list[Holding]:
    """Every host some deployment has done something on that is not undone, by host."""
    released: dict[str, set[str]] = {}
    out = []
    for host, dep in store.hosts_in_use():
        if dep not in released:
            released[dep] = set(store.deployment(dep).settings.get(RELEASED) or ())
        out.append(Holding(host, dep, host in released[dep]))
    return out


def release(store: Store, deployment: str, hosts: tuple[str, ...]) -> list[str]:
    """Hand ``hosts`` of ``deployment`` over: it runs nothing there any more, and another
    deployment may take them. Journaled with an event; what was released.

    Raises:
        UsageError: a live engine drives it, or it holds none of ``hosts`` (naming those
            it holds). Nothing is changed then.
    """
    dep = store.deployment(deployment)
    if identity.driving(dep):
        raise UsageError(f"deployment {dep.id} is being driven by the engine "
                         f"{identity.describe(dep.owner)}",
                         hint="hand its hosts over once it has stopped ('murano-flow pause')")
    held = {h for h, d in store.hosts_in_use() if d == dep.id}
    unknown = [h for h in hosts if h not in held]
    if unknown:
        raise UsageError(f"deployment {dep.id} does not hold {unknown[0]}; it holds: "
                         f"{', '.join(sorted(held)) or 'no host'}",
                         hint="'murano-flow hosts list' shows who holds what")
    before = list(dep.settings.get(RELEASED) or [])
    dep.settings[RELEASED] = before + [h for h in hosts if h not in before]
    store.reshape(dep, store.nodes(dep.id), [Event(
        dep.id, time.time(), "deployment", status=dep.state,
        message=f"handed over {', '.join(hosts)}: it runs nothing there any more")])
    return list(hosts)
