"""Group commit: concurrent writes share one database transaction.

Requests queue up while the previous transaction commits; the writer thread
takes everything waiting (up to a maximum) and decides it in one transaction, in
arrival order. Each caller is answered only after that commit: an acknowledged
reservation is in the ledger, an acknowledged webhook in the inbox. One commit
per batch instead of per request is what lets a single hot SKU take thousands of
reservations a second.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine

_STOP = object()
# The writer keeps its connection while batches follow each other; after a pause longer than this it takes
# one from the pool again, whose pre-ping replaces a connection the server dropped meanwhile.
KEEP_CONNECTION_SECONDS = 1.0

# Decides a batch inside the transaction: one result per item, in order.
Decide = Callable[[Connection, list], list]
# What a waiting caller gets: its future, and the result or the error.
Outcomes = list[tuple[asyncio.Future, Any, "BaseException | None"]]


class GroupCommitter:
    def __init__(self, engine: Engine, decide: Decide, *, name: str, max_batch: int = 256):
        self.engine = engine
        self.decide = decide
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._conn: Connection | None = None  # the writer thread's own
        self._used = 0.0
        self._thread = threading.Thread(target=self._run, name=f"group-commit-{name}", daemon=True)
        self._thread.start()

    async def submit(self, item: Any) -> Any:
        """The item's result, once the transaction that decided it has committed."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((item, loop, future))
        return await future

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=30)
        while True:  # anything queued after the stop is answered, not left hanging
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                _, loop, future = item
                _answer(loop, [(future, None, RuntimeError("the stock service is shutting down"))])

    def _run(self) -> None:
        try:
            self._batches()
        finally:
            self._release()

    def _batches(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                batch.append(more)
            self._decide(batch)
            if stop:
                return

    def _decide(self, batch: list) -> None:
        try:
            conn = self._connection()
            with conn.begin():
                answers = self.decide(conn, [item for item, _, _ in batch])
            outcomes = [(answer, None) for answer in answers]
            self._used = time.monotonic()
        except Exception as error:  # the transaction rolled back: nobody in it was acknowledged
            self._release()  # the next batch starts on a checked connection
            outcomes = [(None, error)] * len(batch)
        by_loop: dict[asyncio.AbstractEventLoop, list] = {}
        for (_, loop, future), (answer, error) in zip(batch, outcomes):
            by_loop.setdefault(loop, []).append((future, answer, error))
        for loop, answers in by_loop.items():  # one wake-up of each event loop for the whole batch
            _answer(loop, answers)

    def _connection(self) -> Connection:
        if self._conn is not None and time.monotonic() - self._used > KEEP_CONNECTION_SECONDS:
            self._release()
        if self._conn is None:
            self._conn = self.engine.connect()
        return self._conn

    def _release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.close()
            except Exception:  # a broken connection: the pool discards it
                pass


def _answer(loop: asyncio.AbstractEventLoop, answers: Outcomes) -> None:
    try:
        loop.call_soon_threadsafe(_settle, answers)
    except RuntimeError:  # the loop is closed: nobody waits for these answers any more
        pass


def _settle(answers: Outcomes) -> None:
    for future, answer, error in answers:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(answer)
