"""Pausing Python's cyclic garbage collector around bulk work.

Building a 50,000-node blueprint or driving its deployment allocates millions of
long-lived objects; every full collection walks all of them, which made both
super-linear (measured: parse 10.3 s -> 4.1 s, deploy 3.3 s -> 2.2 s at 50,000
nodes). Our structures are trees, freed by reference counting; the few cycles
made meanwhile are collected once the collector is back on.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disable automatic cyclic collection inside the block (re-entrant, restores state)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
