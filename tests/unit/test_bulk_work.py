"""run_chunks: worker processes on PostgreSQL, the calling process on SQLite, failures raised."""

from __future__ import annotations

import os

import pytest

from commerce_core.bulk_work import run_chunks, stream_in_workers
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
