"""Pending work of a pipeline stage: upstream rows whose hash differs from what the stage built.

Batches come in key order (keyset paging), each small enough to commit on its
own: memory stays flat for a million products, and a crash keeps what was done.
Rows a stage leaves pending (a failed enrichment) are not revisited in the same run.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Engine, Select


def iter_pending(engine: Engine, query: Select, key_column, batch_size: int) -> Iterator[list[dict]]:
    last_key = None
    while True:
        page = query if last_key is None else query.where(key_column > last_key)
        with engine.connect() as conn:
            rows = conn.execute(page.order_by(key_column).limit(batch_size)).mappings().all()
        if not rows:
            return
        yield [dict(row) for row in rows]
        last_key = rows[-1][key_column.name]
