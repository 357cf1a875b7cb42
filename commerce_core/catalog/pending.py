"""Pending work of a pipeline stage: upstream rows whose hash differs from what the stage built.

First the keys alone (a narrow read), cut into ranges of consecutive pending
keys; then the full rows a range at a time: memory stays flat for a million
products, and each range commits on its own, so a crash keeps what was done. A
row the stage leaves pending (a failed enrichment) is not revisited in the same
run: the ranges do not overlap.
"""

from __future__ import annotations

import operator

from sqlalchemy import ColumnElement, Connection, Engine, Row, Select, true

KeyRange = tuple[str, str]  # first and last key, inclusive


def pending_ranges(engine: Engine, query: Select, key_column, size: int, *, workers: int = 1) -> list[KeyRange]:
    """The pending keys, in order, as ranges of at most `size` keys each.

    With several workers the ranges are as many as a whole number of rounds (one range
    per worker each) and of equal length, so no worker finishes a stage alone."""
    with engine.connect() as conn:
        _serial_plans(conn)
        keys = conn.execute(query.with_only_columns(key_column).order_by(key_column)).scalars().all()
    count = -(-len(keys) // size)
    if workers > 1 and count > 1:
        count = -(-count // workers) * workers
    step = -(-len(keys) // count) if count else 1
    return [(keys[start], keys[min(start + step, len(keys)) - 1]) for start in range(0, len(keys), step)]


def in_range(key_column, key_range: KeyRange | None) -> ColumnElement[bool]:
    """The condition a pending query puts on each table it reads, so that a range of keys is read
    as range scans of every table (a condition on one side of a join is not carried to the other)."""
    return true() if key_range is None else key_column.between(*key_range)


def read_pending(engine: Engine, query: Select, key_column) -> list[Row]:
    """The rows of a pending query for one key range (see in_range), in key order (columns by attribute).

    Ranges, not lists of keys: cheaper for the database, and the keys listed are exactly
    the pending ones between the bounds. Sorted here, not by the database: its sort would
    carry the wide JSON columns along (spilled to disk, measured 20 MB a range)."""
    with engine.connect() as conn:
        _serial_plans(conn)
        rows = conn.execute(query).all()
    rows.sort(key=operator.attrgetter(key_column.name))
    return rows


def _serial_plans(conn: Connection) -> None:
    """No parallel query workers for this transaction: the stages already run a process per core,
    and extra workers only add their start-up and hand-over (measured ~1 CPU-s per 100,000 products)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
