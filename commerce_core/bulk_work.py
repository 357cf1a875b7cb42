"""Process settings for bulk work (whole-catalog stages, region syncs)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

BULK_GEN0_THRESHOLD = 50_000


@contextmanager
def fewer_gc_passes(threshold: int = BULK_GEN0_THRESHOLD) -> Iterator[None]:
    """Raise the cyclic collector's first threshold while bulk work runs.

    Mapping a catalog allocates millions of short-lived dicts and strings that
    form no cycles; at the default (700 allocations) the collector runs
    thousands of times for nothing — measured: 20 % of a region sync's CPU.
    Reference counting still frees everything at once; cycles are still
    collected, just less often.
    """
    before = gc.get_threshold()
    gc.set_threshold(threshold, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
