"""Keeping an engine's leases on the deployments it drives alive.

An engine owns a deployment for as long as its lease lasts (``ttl`` seconds, judged by
the journal's clock). A thread renews every lease the engine holds each ``ttl / 3``
seconds, in one statement, so a lease survives two missed renewals. When a renewal
finds a deployment no longer ours (another engine took it after the lease ran out -
this engine was frozen, or cut off from the database), the run driving it is told at
once; and every commit is fenced by the lease anyway (``Store.commit(owner=...)``), so
a run that has not heard yet cannot write, nor push a plan, after losing it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ..errors import StoreError
from ..store.base import Store

log = logging.getLogger(__name__)

#: Default lease, seconds: how long a dead engine's deployments wait before another
#: engine takes them over (see docs/scaling.md for the bound on takeover time).
DEFAULT_TTL = 15.0


class Leases:
    """The leases one engine process holds, renewed on a background thread."""

    def __init__(self, store: Store, owner: str, ttl: float = DEFAULT_TTL) -> None:
        self.store, self.owner, self.ttl = store, owner, ttl
        self._held: dict[str, Callable[[], None]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, deployment: str, on_lost: Callable[[], None]) -> None:
        """Keep renewing the lease on ``deployment``; call ``on_lost`` if it is lost."""
        with self._lock:
            self._held[deployment] = on_lost
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, args=(self._stop,),
                                                name="leases", daemon=True)
                self._thread.start()

    def drop(self, deployment: str) -> None:
        """Stop renewing ``deployment`` (the engine released it, or lost it)."""
        with self._lock:
            self._held.pop(deployment, None)

    def held(self) -> list[str]:
        """The deployments whose leases are being renewed."""
        with self._lock:
            return list(self._held)

    def renew(self) -> None:
        """Renew every lease now; tell the runs whose deployments were taken."""
        wanted = self.held()
        if not wanted:
            return
        try:
            kept = set(self.store.renew(self.owner, wanted, self.ttl))
        except StoreError as exc:  # the commit fence stops the runs if this lasts
            log.warning("could not renew leases on %d deployments: %s", len(wanted), exc)
            return
        for dep in wanted:
            if dep not in kept:
                with self._lock:
                    on_lost = self._held.pop(dep, None)
                if on_lost is not None:
                    log.warning("%s: lost its lease: another engine drives it now", dep)
                    on_lost()

    def close(self) -> None:
        """Stop the renewing thread (the leases then run out unless released); a later
        :meth:`hold` starts a new one."""
        with self._lock:
            thread, self._thread = self._thread, None
            stop, self._stop = self._stop, threading.Event()
        stop.set()
        if thread is not None:
            thread.join()

    def _loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.ttl / 3):
            self.renew()
