"""Process settings for bulk work (whole-catalog stages, region syncs), and worker processes for it.

Worker processes live inside a `worker_processes()` scope and never outlive it:
whoever runs the stages (a Dagster resource for a step or a run, a CLI command,
a benchmark) opens the scope, and the workers are stopped when it closes, also
when a step fails or is cancelled. Nothing waits for interpreter exit: a
process started by `multiprocessing` (Dagster's step processes) joins its
children before its exit hooks would run, so a pool left to those hooks hangs
the step forever.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import wait as connection_wait
from contextlib import ExitStack, contextmanager
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
    with worker_processes() as scope:
        pool = scope.pool(workers)
        futures: list[Future] = [pool.submit(_in_worker(engine, work), chunk) for chunk in chunks]
        with _settled(futures, scope):
            for future in _in_completion_order(futures):
                yield future.result()


def map_in_workers(engine: Engine, work: ChunkWork, jobs: Sequence, *, workers: int) -> Iterator[R]:
    """work(engine, job) for every job; results in the jobs' order, each as soon as it and those
    before it are done. On PostgreSQL with workers > 1 and more than one job, the jobs run in the
    scope's worker processes (each with its own connections; jobs and results must be picklable);
    otherwise (SQLite: one writer at a time) here, one after another."""
    if len(jobs) <= 1 or not _in_processes(engine, workers):
        for job in jobs:
            yield work(engine, job)
        return
    with worker_processes() as scope:
        pool = scope.pool(workers)
        futures = [pool.submit(_in_worker(engine, work), job) for job in jobs]
        with _settled(futures, scope):
            for future in futures:
                yield future.result()


def stream_in_workers(engine: Engine, work: ChunkWork, jobs: Iterable, *, workers: int) -> Iterator[R]:
    """work(engine, job) for each job as `jobs` yields it; results in the jobs' order.

    For a stream too long to hold (a supplier's listing): at most two jobs per
    worker are queued at a time, so memory stays flat and the next job is built
    here while the workers run. On PostgreSQL with workers > 1 the jobs run in
    the scope's worker processes; otherwise one at a time in a background
    thread, which still overlaps building the next job with writing this one.
    A failure is raised when its result is due; jobs not yet started are
    dropped, and in the thread nothing after a failed job runs."""
    with ExitStack() as stack:
        scope = None
        if _in_processes(engine, workers):
            scope = stack.enter_context(worker_processes())
            window, submit = 2 * workers, partial(scope.pool(workers).submit, _in_worker(engine, work))
        else:
            thread = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="stream-work"))
            window, submit = 1, partial(thread.submit, work, engine)
        in_flight: deque[Future] = deque()
        with _settled(in_flight, scope):
            for job in jobs:
                while len(in_flight) >= window:
                    yield in_flight.popleft().result()
                in_flight.append(submit(job))
            while in_flight:
                yield in_flight.popleft().result()


def start_workers(engine: Engine, workers: int) -> None:
    """Start the worker processes of the scope open in this thread now, so their start-up (~0.4 CPU-s
    each, mostly imports) overlaps work done here (a stage's first HTTP requests) instead of delaying its
    first job. Outside a scope there is nothing to keep them for: the stage starts them when it needs them."""
    scope = _open_scope.current
    if scope is not None and _in_processes(engine, workers):
        pool = scope.pool(workers)
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


@contextmanager
def _settled(futures: Iterable[Future], scope: WorkerScope | None = None) -> Iterator[None]:
    """Jobs not started are dropped when the caller stops early or a job fails. On a failure, or when
    the caller stops reading, the jobs already running finish first (each is its own transaction); when
    the step is interrupted (cancelled), they do not: the scope's end stops their processes."""
    try:
        yield
    except (Exception, GeneratorExit) as error:
        for future in futures:
            future.cancel()
        wait(futures)
        if isinstance(error, BrokenProcessPool) and scope:  # the next stage in the scope starts new workers
            scope.discard_broken()
        raise
    except BaseException:
        for future in futures:
            future.cancel()
        raise


# A worker's process is stopped this long after it was asked to finish, when it has not.
STOP_GRACE_SECONDS = 10.0


class WorkerScope:
    """The worker processes of one outermost `worker_processes()` scope: started on first use, with as
    many processes as asked for (a different number replaces them), stopped by `close`."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._workers = 0

    def pool(self, workers: int) -> ProcessPoolExecutor:
        if self._pool is None or self._workers != workers:
            self.close(graceful=True)
            # spawn, not fork: a forked worker would inherit the parent's pooled database connections.
            self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start_worker, initargs=(BULK_GEN0_THRESHOLD,))
            self._workers = workers
        return self._pool

    def discard_broken(self) -> None:
        """A broken pool (a worker died) is not reused."""
        self.close(graceful=False)

    def close(self, *, graceful: bool) -> None:
        """Stop the processes and wait until they are gone: asked to finish their jobs when graceful
        (terminated if they have not after STOP_GRACE_SECONDS), terminated at once otherwise."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # ProcessPoolExecutor names neither its processes nor its manager thread publicly before
        # Python 3.14 (terminate_workers); the thread reaps the processes, so it alone joins them.
        processes = list((getattr(pool, "_processes", None) or {}).values())
        manager = getattr(pool, "_executor_manager_thread", None)
        pool.shutdown(wait=False, cancel_futures=True)
        running = _still_running(processes, STOP_GRACE_SECONDS if graceful else 0.0)
        for process in running:
            process.terminate()
        _still_running(running, None)
        if manager is not None:  # bounded: a job still in the pipe to a killed worker can stall the thread
            manager.join(STOP_GRACE_SECONDS)


def _still_running(processes: list, timeout: float | None) -> list:
    """The processes that have not ended within `timeout` seconds (None: wait for all), without reaping
    them (their pool's manager thread does)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    running = list(processes)
    while running:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        ended = set(connection_wait([process.sentinel for process in running], left))
        if not ended:
            break
        running = [process for process in running if process.sentinel not in ended]
    return running


class _OpenScope(threading.local):
    current: WorkerScope | None = None


_open_scope = _OpenScope()


@contextmanager
def worker_processes() -> Iterator[WorkerScope]:
    """The scope that owns the worker processes started inside it, in this thread.

    The outermost scope owns them (a Dagster resource around a step or a run),
    so the stages inside share them; a scope opened inside another is that
    one. Each stage opens a scope too, so a stage run outside any scope still
    stops its workers when it ends. When the outermost scope closes normally,
    its workers are asked to finish; when it closes on an error or an
    interrupt (a cancelled run), they are terminated at once: a half-done chunk
    is a transaction the database rolls back. A stage left suspended inside
    (its generator not closed) cannot keep them alive past the outermost scope."""
    if _open_scope.current is not None:
        yield _open_scope.current
        return
    scope = _open_scope.current = WorkerScope()
    clean = False
    try:
        yield scope
        clean = True
    finally:
        _open_scope.current = None
        scope.close(graceful=clean)


def _start_worker(gen0_threshold: int) -> None:
    gc.set_threshold(gen0_threshold)
    threading.Thread(target=_exit_with_parent, name="exit-with-parent", daemon=True).start()


def _exit_with_parent() -> None:
    """A worker whose parent died without stopping it (SIGKILL, OOM) ends too, instead of waiting for
    jobs forever: it holds its own end of the job queue, so it would never see that queue close."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()
        os._exit(1)


# In a worker: the engine of the database it last worked on. A worker outlives
# runs (and, in tests, databases), so the connections of an earlier URL are closed.
_worker_url: str | None = None


def _run_in_worker(database_url: str, work: ChunkWork, chunk: Sequence) -> R:
    global _worker_url
    if _worker_url not in (None, database_url):
        get_engine(_worker_url).dispose()
    _worker_url = database_url
    return work(get_engine(database_url), chunk)
