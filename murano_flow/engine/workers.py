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
    """Up to ``size`` threads taking calls from one queue; a thread starts only when no
    started one is idle (a deployment of 100 small nodes with 64 workers needs few)."""

    def __init__(self, size: int, name: str = "murano-flow-worker") -> None:
        self.size, self.name = size, name
        self._calls: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue())
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        #: Workers done with their call and not yet promised another one.
        self._waiting = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on a worker thread; ``fn`` must not raise."""
        self._calls.put((fn, args))
        with self._lock:
            if self._waiting:  # a waiting worker takes it
                self._waiting -= 1
                return
        if len(self._threads) < self.size:
            thread = threading.Thread(target=self._loop, name=f"{self.name}-{len(self._threads)}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    @property
    def started(self) -> int:
        """How many threads were started."""
        return len(self._threads)

    @property
    def idle(self) -> int:
        """How many started threads wait for a call."""
        with self._lock:
            return self._waiting

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
            with self._lock:  # waiting again: the next submit need not start a thread
                self._waiting += 1
