"""A minimal thread pool: fire-and-forget calls, no futures.

The engine's workers report through the engine's own completion queue, so the
Future, work-item and idle-semaphore bookkeeping of ``ThreadPoolExecutor`` would be
pure overhead on every action (measured: a fifth of the engine's cost per node).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any


class WorkerPool:
    """Up to ``size`` threads taking calls from one queue; threads start on demand."""

    def __init__(self, size: int, name: str = "murano-flow-worker") -> None:
        self.size, self.name = size, name
        self._calls: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue())
        self._threads: list[threading.Thread] = []

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on a worker thread; ``fn`` must not raise."""
        if len(self._threads) < self.size:
            thread = threading.Thread(target=self._loop, name=f"{self.name}-{len(self._threads)}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        self._calls.put((fn, args))

    def shutdown(self, wait: bool = True) -> None:
        """Let queued calls finish, then stop every thread; without ``wait``, the threads
        stop by themselves once their calls return."""
        for _ in self._threads:
            self._calls.put(None)
        if wait:
            for thread in self._threads:
                thread.join()
        self._threads.clear()

    def _loop(self) -> None:
        while (call := self._calls.get()) is not None:
            fn, args = call
            fn(*args)
