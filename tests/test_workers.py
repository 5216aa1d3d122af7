"""The engine's worker pool: calls run on its threads, which start only when needed."""

from __future__ import annotations

import threading

from kits.common import wait_until

from murano_flow.engine.workers import WorkerPool


def test_calls_one_after_another_reuse_one_thread():
    pool = WorkerPool(64)
    for k in range(20):
        done = threading.Event()
        pool.submit(done.set)
        assert done.wait(60)
        wait_until(lambda: pool.idle == 1, f"the worker waiting again after call {k}")
    # 64 allowed, one needed: each call found the thread of the one before waiting
    # (before the fix every submit started a thread until 64 ran: 4x slower on 100 nodes)
    assert pool.started == 1
    pool.shutdown()


def test_calls_that_wait_together_get_threads_up_to_the_size():
    pool = WorkerPool(4)
    release, arrived = threading.Event(), threading.Semaphore(0)

    def hold() -> None:
        arrived.release()
        release.wait(60)

    for _ in range(6):
        pool.submit(hold)
    for _ in range(4):
        assert arrived.acquire(timeout=60)  # four run at once ...
    assert pool.started == 4 and not arrived.acquire(timeout=0.05)  # ... not more
    release.set()
    for _ in range(2):
        assert arrived.acquire(timeout=60)  # the queued two run once threads free up
    pool.shutdown()
