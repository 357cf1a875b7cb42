"""Bulk work: worker processes on PostgreSQL, the calling process on SQLite, failures raised, and worker
processes that never outlive the scope that started them."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from commerce_core.bulk_work import map_in_workers, run_chunks, start_workers, stream_in_workers, worker_processes
from commerce_core.db.engine import get_engine
from tests.conftest import PG_URL


def _where_and_what(engine, chunk: list[int]) -> tuple[int, str, list[int]]:
    with engine.connect() as conn:
        database = conn.exec_driver_sql("SELECT 1").scalar_one()
    return os.getpid(), engine.dialect.name, [value * database for value in chunk]


def _fails_on_three(engine, chunk: list[int]) -> list[int]:
    if 3 in chunk:
        raise ValueError("chunk with 3 refused")
    return chunk


CHUNKS = [[1, 2], [3], [4, 5], [6]]


def test_on_postgresql_chunks_run_in_worker_processes_with_their_own_connections() -> None:
    results = list(run_chunks(get_engine(PG_URL), _where_and_what, CHUNKS, workers=2))
    assert {pid for pid, _, _ in results}.isdisjoint({os.getpid()})
    assert {dialect for _, dialect, _ in results} == {"postgresql"}
    assert sorted(done for _, _, done in results) == CHUNKS


def test_on_sqlite_or_with_one_worker_chunks_run_here_in_order(tmp_path) -> None:
    for engine, workers in ((get_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}"), 2), (get_engine(PG_URL), 1)):
        results = list(run_chunks(engine, _where_and_what, CHUNKS, workers=workers))
        assert [(pid, done) for pid, _, done in results] == [(os.getpid(), chunk) for chunk in CHUNKS]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failed_chunk_fails_the_run(workers: int) -> None:
    with pytest.raises(ValueError, match="chunk with 3 refused"):
        list(run_chunks(get_engine(PG_URL), _fails_on_three, CHUNKS, workers=workers))


def _doubled(engine, job: int) -> tuple[int, int]:
    return os.getpid(), job * 2


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_streamed_jobs_come_back_in_order_and_are_taken_at_most_a_window_ahead(backend: str, tmp_path) -> None:
    engine = get_engine(PG_URL if backend == "postgresql" else f"sqlite:///{tmp_path / 'db.sqlite3'}")
    window = 4 if backend == "postgresql" else 1  # two per worker process; one for the thread
    taken: list[int] = []

    def jobs():
        for job in range(20):
            taken.append(job)
            yield job

    results = []
    for pid, doubled in stream_in_workers(engine, _doubled, jobs(), workers=2):
        results.append(doubled)
        assert len(taken) - len(results) <= window
        assert (pid != os.getpid()) == (backend == "postgresql")
    assert results == [job * 2 for job in range(20)]


_ran: list[int] = []


def _recorded_fails_on_three(engine, job: int) -> int:
    _ran.append(job)
    if job == 3:
        raise ValueError("job 3 refused")
    return job


def test_in_the_thread_nothing_after_a_failed_job_runs(tmp_path) -> None:
    _ran.clear()
    engine = get_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with pytest.raises(ValueError, match="job 3 refused"):
        list(stream_in_workers(engine, _recorded_fails_on_three, iter(range(10)), workers=2))
    assert _ran == [0, 1, 2, 3]


def _pid(engine, chunk) -> int:
    return os.getpid()


def _sleeps(engine, chunk: list[float]) -> int:
    time.sleep(chunk[0])
    return os.getpid()


def _alive(pid: int) -> bool:
    """Whether a process with this pid still exists and is not a zombie (an exited child not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _gone_within(pids: set[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(_alive(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False


def test_outside_a_scope_a_stage_stops_its_workers_when_it_ends() -> None:
    pids = set(run_chunks(get_engine(PG_URL), _pid, CHUNKS, workers=2))
    assert pids and os.getpid() not in pids
    assert not any(_alive(pid) for pid in pids)
    assert multiprocessing.active_children() == []


def test_a_scope_keeps_its_workers_from_stage_to_stage_and_stops_them_when_it_closes() -> None:
    engine = get_engine(PG_URL)
    with worker_processes():
        first = set(run_chunks(engine, _pid, CHUNKS, workers=2))
        second = set(map_in_workers(engine, _pid, CHUNKS, workers=2))
        assert second <= first and all(_alive(pid) for pid in first)  # the same processes, none new
    assert not any(_alive(pid) for pid in first)
    assert multiprocessing.active_children() == []


class _Interrupted(BaseException):
    """What Dagster raises in a step it cancels (DagsterExecutionInterruptedError is a BaseException too)."""


def _raise_interrupted(signum, frame):
    raise _Interrupted


def test_an_interrupted_scope_terminates_busy_workers_without_waiting_for_their_jobs() -> None:
    engine = get_engine(PG_URL)
    # Dagster cancels a step by signalling its process; the handler raises in the main thread.
    previous = signal.signal(signal.SIGUSR1, _raise_interrupted)
    started = time.monotonic()
    try:
        with pytest.raises(_Interrupted):
            with worker_processes():
                pids = set(run_chunks(engine, _pid, CHUNKS, workers=2))
                stage = run_chunks(engine, _sleeps, [[60.0], [60.0]], workers=2)
                threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGUSR1)).start()
                list(stage)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert time.monotonic() - started < 30, "the scope waited for the jobs instead of stopping their workers"
    assert not any(_alive(pid) for pid in pids)
    assert multiprocessing.active_children() == []


def test_start_workers_outside_a_scope_starts_nothing_that_would_outlive_it() -> None:
    start_workers(get_engine(PG_URL), 2)
    assert multiprocessing.active_children() == []


def _consumed_once(engine) -> None:
    stage = run_chunks(engine, _pid, CHUNKS, workers=2)
    next(stage)
    raise ValueError("the consumer fails while the stage is suspended")


def test_a_stage_left_suspended_cannot_keep_workers_past_the_outermost_scope() -> None:
    """A failure's traceback keeps the suspended stage (and its inner scope) alive; the outer scope still
    stops the workers when it closes."""
    engine = get_engine(PG_URL)
    with pytest.raises(ValueError) as failure:
        with worker_processes():
            start_workers(engine, 2)
            _consumed_once(engine)
    assert failure.traceback  # still holds the suspended stage
    assert multiprocessing.active_children() == []


_ORPHAN_SCRIPT = """
import os, sys, time
from commerce_core.bulk_work import run_chunks, worker_processes
from commerce_core.db.engine import get_engine
from tests.unit.test_bulk_work import _pid
with worker_processes():
    pids = set(run_chunks(get_engine(sys.argv[1]), _pid, [[1], [2], [3], [4]], workers=2))
    print(" ".join(map(str, pids)), flush=True)
    time.sleep(600)
"""


def test_workers_end_when_their_parent_is_killed() -> None:
    """A step process killed outright (SIGKILL, out of memory) runs no cleanup: its workers notice alone."""
    parent = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT, PG_URL], stdout=subprocess.PIPE, text=True)
    try:
        pids = {int(pid) for pid in parent.stdout.readline().split()}
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)
    finally:
        parent.kill()
        parent.wait()
    assert _gone_within(pids, 20), f"workers {pids} outlived their killed parent"
