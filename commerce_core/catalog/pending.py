"""Pending work of a pipeline stage: upstream rows whose hash differs from what the stage built.

First the keys alone (a narrow read), then the full rows a batch at a time: the
wide JSON columns are never sorted, memory stays flat for a million products,
and each batch commits on its own, so a crash keeps what was done. A row the
stage leaves pending (a failed enrichment) is not revisited in the same run.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Engine, Row, Select

from commerce_core.db.lookup import in_keys


def iter_pending(engine: Engine, query: Select, key_column, batch_size: int) -> Iterator[list[Row]]:
    """Batches of the query's rows (columns by attribute: a batch of 10,000 is not copied into dicts)."""
    with engine.connect() as conn:
        keys = conn.execute(query.with_only_columns(key_column).order_by(key_column)).scalars().all()
    for start in range(0, len(keys), batch_size):
        chunk = keys[start : start + batch_size]
        with engine.connect() as conn:
            rows = conn.execute(query.where(in_keys(conn, key_column, chunk)).order_by(key_column)).all()
        if rows:
            yield rows
