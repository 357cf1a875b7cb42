"""run_chunks: worker processes on PostgreSQL, the calling process on SQLite, failures raised."""

from __future__ import annotations

import os

import pytest

from commerce_core.bulk_work import run_chunks
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
