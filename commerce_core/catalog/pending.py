"""Pending work of a pipeline stage: upstream rows whose hash differs from what the stage built.

First the keys alone (a narrow read), cut into ranges of consecutive pending
keys; then the full rows a range at a time (read_pending): memory stays flat
for a million products, the ranges run side by side in the worker processes,
and each commits on its own, so a crash keeps what was done. A row the stage
leaves pending (a failed enrichment) is not revisited in the same run: the
ranges do not overlap.
"""

from __future__ import annotations

import operator

from sqlalchemy import ColumnElement, Connection, Engine, Row, Select, Table, literal, select, true

KeyRange = tuple[str, str]  # first and last key, inclusive


def pending_ranges(engine: Engine, query: Select, key_column, size: int, *, stage_table: Table,
                   supplier_id: str, workers: int = 1) -> list[KeyRange]:
    """The supplier's pending keys, in order, as ranges of at most `size` keys.

    When the stage's own table holds none of the supplier's rows yet (its first import),
    every upstream key is pending: only those keys are read, an index scan, instead of the
    join that finds the pending ones across the wide tables in this one process while the
    workers wait (0.17-0.29 s a stage per 100,000 products, measured).
    With several workers the ranges are as many as a whole number of rounds (one range per
    worker each) and of equal length, so no worker finishes a stage alone."""
    upstream = key_column.table
    with engine.connect() as conn:
        _serial_plans(conn)
        first_build = conn.execute(select(literal(1)).where(stage_table.c.supplier_id == supplier_id)
                                   .limit(1)).first() is None
        keys_query = (select(key_column).where(upstream.c.supplier_id == supplier_id) if first_build
                      else query.with_only_columns(key_column))
        keys = conn.execute(keys_query.order_by(key_column)).scalars().all()
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
