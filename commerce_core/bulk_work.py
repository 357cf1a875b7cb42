"""Process settings for bulk work (whole-catalog stages, region syncs), and worker processes for it."""

from __future__ import annotations

import atexit
import gc
import multiprocessing
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from functools import partial
from typing import TypeVar

from sqlalchemy import Engine

from commerce_core.db.engine import get_engine

BULK_GEN0_THRESHOLD = 50_000

R = TypeVar("R")
# work(engine, chunk) -> partial result; a picklable callable (a module-level function or a partial of one).
# A chunk is a batch of rows, or any one job.
ChunkWork = Callable[[Engine, Sequence], R]


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


def run_chunks(engine: Engine, work: ChunkWork, chunks: Sequence[Sequence], *, workers: int) -> Iterator[R]:
    """work(engine, chunk) for every chunk; yields each partial result as it is done.

    On PostgreSQL with workers > 1 and more than one chunk, the chunks run in that
    many worker processes, each with its own connections, so Python and the
    database keep every core busy (one process has one GIL). Each chunk must be
    its own transaction: chunks finish in any order. Otherwise (SQLite: one
    writer at a time) they run here, one after another. The first failure is
    raised once the chunks already running have finished; chunks not started
    are dropped.
    """
    if len(chunks) <= 1 or not _in_processes(engine, workers):
        for chunk in chunks:
            yield work(engine, chunk)
        return
    pool = _shared_pool(workers)
    futures: list[Future] = [pool.submit(_in_worker(engine, work), chunk) for chunk in chunks]
    try:
        for future in _in_completion_order(futures):
            yield future.result()
    except BrokenProcessPool:
        _discard_pool(pool)
        raise
    finally:
        for future in futures:
            future.cancel()
        wait(futures)


def map_in_workers(engine: Engine, work: ChunkWork, jobs: Sequence, *, workers: int) -> Iterator[R]:
    """work(engine, job) for every job; results in the jobs' order, each as soon as it and those
    before it are done. On PostgreSQL with workers > 1 and more than one job, the jobs run in the
    shared worker processes (each with its own connections; jobs and results must be picklable);
    otherwise (SQLite: one writer at a time) here, one after another."""
    if len(jobs) <= 1 or not _in_processes(engine, workers):
        for job in jobs:
            yield work(engine, job)
        return
    pool = _shared_pool(workers)
    try:
        yield from pool.map(_in_worker(engine, work), jobs)
    except BrokenProcessPool:
        _discard_pool(pool)
        raise


def stream_in_workers(engine: Engine, work: ChunkWork, jobs: Iterable, *, workers: int) -> Iterator[R]:
    """work(engine, job) for each job as `jobs` yields it; results in the jobs' order.

    For a stream too long to hold (a supplier's listing): at most two jobs per
    worker are queued at a time, so memory stays flat and the next job is built
    here while the workers run. On PostgreSQL with workers > 1 the jobs run in
    the shared worker processes; otherwise one at a time in a background
    thread, which still overlaps building the next job with writing this one.
    A failure is raised when its result is due; jobs not yet started are
    dropped, and in the thread nothing after a failed job runs."""
    pool = thread = None
    if _in_processes(engine, workers):
        pool, window = _shared_pool(workers), 2 * workers
        submit = partial(pool.submit, _in_worker(engine, work))
    else:
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stream-work")
        window, submit = 1, partial(thread.submit, work, engine)
    in_flight: deque[Future] = deque()
    try:
        for job in jobs:
            while len(in_flight) >= window:
                yield in_flight.popleft().result()
            in_flight.append(submit(job))
        while in_flight:
            yield in_flight.popleft().result()
    except BrokenProcessPool:
        _discard_pool(pool)
        raise
    finally:
        for future in in_flight:
            future.cancel()
        wait(in_flight)
        if thread:
            thread.shutdown(wait=True)


def start_workers(engine: Engine, workers: int) -> None:
    """Start the shared worker processes now, so their start-up (~0.4 CPU-s each, mostly imports)
    overlaps work done here (a stage's first HTTP requests) instead of delaying its first job."""
    if _in_processes(engine, workers):
        pool = _shared_pool(workers)
        for _ in range(workers):  # a spawn pool starts a process per job submitted while none is idle
            pool.submit(_started)


def _started() -> None:
    """A job that only makes a worker process start."""


def _in_processes(engine: Engine, workers: int) -> bool:
    """Whether bulk work goes to worker processes: several asked for, on a database with many writers."""
    return workers > 1 and engine.dialect.name == "postgresql"


def _in_worker(engine: Engine, work: ChunkWork) -> Callable[[Sequence], R]:
    """work as a worker process runs it: on its own engine for this database."""
    return partial(_run_in_worker, engine.url.render_as_string(hide_password=False), work)


def _in_completion_order(futures: list[Future]) -> Iterator[Future]:
    pending = set(futures)
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        yield from done


# One pool per process, started on first use and kept: spawning a worker costs
# ~0.5 s of imports, paid once rather than per stage. spawn, not fork: a forked
# worker would inherit the parent's pooled database connections.
_pool_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_workers = 0


def _shared_pool(workers: int) -> ProcessPoolExecutor:
    global _pool, _pool_workers
    with _pool_lock:
        if _pool is None or _pool_workers != workers:
            if _pool is not None:
                _pool.shutdown(wait=True)
            _pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=gc.set_threshold, initargs=(BULK_GEN0_THRESHOLD,))
            _pool_workers = workers
        return _pool


def _discard_pool(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


@atexit.register
def _shutdown_pool() -> None:
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)


# In a worker: the engine of the database it last worked on. A worker outlives
# runs (and, in tests, databases), so the connections of an earlier URL are closed.
_worker_url: str | None = None


def _run_in_worker(database_url: str, work: ChunkWork, chunk: Sequence) -> R:
    global _worker_url
    if _worker_url not in (None, database_url):
        get_engine(_worker_url).dispose()
    _worker_url = database_url
    return work(get_engine(database_url), chunk)
