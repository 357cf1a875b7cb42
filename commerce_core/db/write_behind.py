"""Overlap a stage's database writes with building its next batch.

The database works on the other core while Python maps the next batch, so a
stage costs roughly max(Python, database) instead of their sum. One write is in
flight at a time and writes keep their order; the first failure is raised to
the caller at its next submit (or on leaving the block), and nothing submitted
after a failure is written.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


class WriteBehind:
    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-behind")
        self._in_flight: Future | None = None

    def submit(self, write: Callable[[], None]) -> None:
        self.wait()
        self._in_flight = self._executor.submit(write)

    def wait(self) -> None:
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.result()

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.wait()
            elif self._in_flight is not None:
                # The caller already fails; let the write finish, but do not mask the caller's error.
                self._in_flight.exception()
        finally:
            self._executor.shutdown(wait=True)
