"""Pending work of a pipeline stage: upstream rows whose hash differs from what the stage built.

First the keys alone (a narrow read), then the full rows a chunk at a time: the
wide JSON columns are never sorted, memory stays flat for a million products,
and each chunk commits on its own, so a crash keeps what was done. A row the
stage leaves pending (a failed enrichment) is not revisited in the same run.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, Row, Select

from commerce_core.db.lookup import in_keys


def pending_chunks(engine: Engine, query: Select, key_column, chunk_size: int) -> list[list]:
    """The pending keys, in order, cut into chunks of chunk_size."""
    with engine.connect() as conn:
        keys = conn.execute(query.with_only_columns(key_column).order_by(key_column)).scalars().all()
    return [keys[start : start + chunk_size] for start in range(0, len(keys), chunk_size)]


def read_pending(engine: Engine, query: Select, key_column, keys: Sequence) -> list[Row]:
    """The query's rows for these keys that are still pending (columns by attribute: no copy into dicts)."""
    with engine.connect() as conn:
        return conn.execute(query.where(in_keys(conn, key_column, keys)).order_by(key_column)).all()
