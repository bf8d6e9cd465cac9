"""Pausing Python's cyclic garbage collector while a summary builds its objects.

A summary of a large store builds hundreds of thousands of small acyclic objects (rows, sources, their
dicts). Each burst of allocations sets the cyclic collector off over every live object, and it finds
nothing to free (reference counting frees them): measured, a seventh of the summary command's CPU.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The block runs without cyclic collections; the collector is as it was afterwards (nesting is fine)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
