"""Process-wide counts of what happens on the wire — broker connections made again after
one was lost or refused, agents' notices by kind, agents' messages ignored — for an
engine's metrics to read. Counting is a lock and an add: cheap on any path."""

from __future__ import annotations

import threading
from collections import Counter


class Tally:
    """Counts keyed by a name and its labels."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, tuple[str, ...]]] = Counter()
        self._lock = threading.Lock()

    def add(self, name: str, *labels: str) -> None:
        """Count one more ``name`` with ``labels``."""
        with self._lock:
            self._counts[(name, labels)] += 1

    def snapshot(self) -> dict[tuple[str, tuple[str, ...]], int]:
        """Every count so far."""
        with self._lock:
            return dict(self._counts)


#: This process's counts.
TALLY = Tally()
