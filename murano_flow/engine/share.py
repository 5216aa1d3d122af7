"""Sharing one engine's action slots fairly among the deployments it drives.

An engine service runs at most ``total`` actions at once over all its deployments
(each deployment is capped on its own too, by its worker count). Slots are handed
out without blocking: a deployment gets what it asks for while slots are free and no
other deployment is short; when one is short, nobody holds more than an equal share
(``total / deployments``) - so one deployment of a thousand VMs cannot starve a
deployment of three (the lesson of Heat's "unfair amount of resources"). A deployment
that got less than it asked is woken when slots come back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class FairShare:
    """Slots for running actions, shared by the deployments of one engine."""

    def __init__(self, total: int) -> None:
        self.total = max(1, total)
        self._held: dict[str, int] = {}
        self._short: dict[str, Callable[[], None]] = {}
        self._lock = threading.Lock()

    def join(self, deployment: str) -> None:
        """Count ``deployment`` in the equal share from now on."""
        with self._lock:
            self._held.setdefault(deployment, 0)

    def leave(self, deployment: str) -> None:
        """``deployment`` stopped: its slots come back (it must hold none by now)."""
        with self._lock:
            self._held.pop(deployment, None)
            self._short.pop(deployment, None)
            wake = self._wakers()
        for w in wake:
            w()

    def take(self, deployment: str, wanted: int, wake: Callable[[], None]) -> int:
        """Up to ``wanted`` slots for ``deployment`` now (maybe 0); if fewer, ``wake`` is
        called when slots come back."""
        if wanted <= 0:
            return 0
        with self._lock:
            held = self._held.setdefault(deployment, 0)
            free = self.total - sum(self._held.values())
            others_short = any(d != deployment for d in self._short)
            if others_short:
                fair = max(1, self.total // len(self._held))
                free = min(free, fair - held)
            got = max(0, min(wanted, free))
            self._held[deployment] = held + got
            if got < wanted:
                self._short[deployment] = wake
            else:
                self._short.pop(deployment, None)
            return got

    def add(self, deployment: str, count: int) -> None:
        """Count ``count`` actions ``deployment`` runs already (re-attached) as its slots,
        even beyond the total: they run whatever this engine decides."""
        with self._lock:
            self._held[deployment] = self._held.get(deployment, 0) + count

    def give(self, deployment: str, count: int) -> None:
        """``deployment`` finished ``count`` actions: their slots are free again."""
        if count <= 0:
            return
        with self._lock:
            if deployment in self._held:
                self._held[deployment] = max(0, self._held[deployment] - count)
            wake = self._wakers()
        for w in wake:
            w()

    def held(self, deployment: str) -> int:
        """Slots ``deployment`` holds now."""
        with self._lock:
            return self._held.get(deployment, 0)

    def _wakers(self) -> list[Callable[[], None]]:
        return list(self._short.values())
