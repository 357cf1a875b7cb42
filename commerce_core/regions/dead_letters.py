"""The dead-letter queue (GlobalHub design: DeadLetterQueueService, docs/background.md): what a region could not receive.

One row per (product, region), holding the last payload, error and retry count;
a newer failure of the same product replaces the older one and starts its tries
again. A delivery of the product, by a regular run or by the retry job, removes
the row. Rows past the last try stay for an operator and are alerted once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

import orjson
from sqlalchemy import Connection, and_, delete, func, select, update

from commerce_core.db.bulk import upsert_rows
from commerce_core.db.lookup import in_keys
from commerce_core.db.schema import dead_letters
from commerce_core.regions.delivery import Failure

ENTITY_PRODUCT = "Product"
MAX_TRIES = 5


def record_failures(conn: Connection, region_code: str, failures: Sequence[Failure], now: datetime) -> None:
    rows = [
        {
            "id": uuid.uuid4(), "entity_type": ENTITY_PRODUCT, "entity_id": str(failure.product.id),
            "target_region": region_code,
            "payload": orjson.dumps(failure.payload).decode() if failure.payload is not None else None,
            "error_message": failure.error[:4000], "http_status": failure.http_status, "failed_at": now,
            "retry_count": 0, "last_retry_at": None, "alerted_at": None,
        }
        for failure in failures
    ]
    upsert_rows(conn, dead_letters, rows, keys=("entity_type", "entity_id", "target_region"),
                update_columns=["payload", "error_message", "http_status", "failed_at", "retry_count",
                                "last_retry_at", "alerted_at"])


def clear(conn: Connection, region_code: str, product_ids: Iterable[uuid.UUID]) -> None:
    ids = [str(product_id) for product_id in product_ids]
    for start in range(0, len(ids), 5000):
        conn.execute(delete(dead_letters).where(
            dead_letters.c.entity_type == ENTITY_PRODUCT, dead_letters.c.target_region == region_code,
            in_keys(conn, dead_letters.c.entity_id, ids[start : start + 5000]),
        ))


def due_for_retry(conn: Connection, limit: int, max_tries: int = MAX_TRIES) -> list[dict]:
    """Oldest first, only those with tries left (GlobalHub design: RetryCount < 5, OrderBy FailedAt, Take 100)."""
    query = (select(dead_letters).where(dead_letters.c.retry_count < max_tries)
             .order_by(dead_letters.c.failed_at, dead_letters.c.id).limit(limit))
    return [dict(row) for row in conn.execute(query).mappings()]


def record_retry_failures(conn: Connection, items: Sequence[dict], errors: dict[str, tuple], now: datetime) -> None:
    """One more try spent; the row shows what this try sent and got: (error, HTTP status, payload)."""
    for item in items:
        error, http_status, payload = errors.get(item["entity_id"], (item["error_message"], None, None))
        values = {"retry_count": dead_letters.c.retry_count + 1, "last_retry_at": now,
                  "error_message": error[:4000], "http_status": http_status}
        if payload is not None:
            values["payload"] = orjson.dumps(payload).decode()
        conn.execute(update(dead_letters).where(dead_letters.c.id == item["id"]).values(**values))


def exhausted_unalerted(conn: Connection, max_tries: int = MAX_TRIES) -> list[dict]:
    query = select(dead_letters).where(
        and_(dead_letters.c.retry_count >= max_tries, dead_letters.c.alerted_at.is_(None))
    ).order_by(dead_letters.c.failed_at)
    return [dict(row) for row in conn.execute(query).mappings()]


def mark_alerted(conn: Connection, ids: Sequence[uuid.UUID], now: datetime) -> None:
    if ids:
        conn.execute(update(dead_letters).where(dead_letters.c.id.in_(list(ids))).values(alerted_at=now))


def backlog(conn: Connection) -> dict[str, int]:
    """Open items per region (for metadata and health)."""
    rows = conn.execute(select(dead_letters.c.target_region, func.count()).group_by(dead_letters.c.target_region))
    return {region: count for region, count in rows}
