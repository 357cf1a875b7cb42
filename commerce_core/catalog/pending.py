"""Pending work of a pipeline stage: upstream rows whose hash differs from what the stage built.

First the keys alone (a narrow read), cut into ranges of consecutive pending
keys; then the full rows a range at a time: the wide JSON columns are never
sorted, memory stays flat for a million products, and each range commits on
its own, so a crash keeps what was done. A row the stage leaves pending (a
failed enrichment) is not revisited in the same run: the ranges do not overlap.
"""

from __future__ import annotations

from sqlalchemy import Engine, Row, Select

KeyRange = tuple[str, str]  # first and last key, inclusive


def pending_ranges(engine: Engine, query: Select, key_column, size: int) -> list[KeyRange]:
    """The pending keys, in order, as ranges of `size` keys each."""
    with engine.connect() as conn:
        keys = conn.execute(query.with_only_columns(key_column).order_by(key_column)).scalars().all()
    return [(keys[start], keys[min(start + size, len(keys)) - 1]) for start in range(0, len(keys), size)]


def read_pending(engine: Engine, query: Select, key_column, key_range: KeyRange) -> list[Row]:
    """The query's rows in this key range that are still pending (columns by attribute: no copy into dicts).

    A range scan, not a list of keys: cheaper for the database, and the keys listed are
    exactly the pending ones between its bounds."""
    with engine.connect() as conn:
        return conn.execute(query.where(key_column.between(*key_range)).order_by(key_column)).all()
