"""The webhook inbox: an event is stored once (by source + event id) before the sender gets its answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from commerce_core.db.schema import webhook_events


def store(conn: Connection, *, source: str, event_id: str, event_type: str, resource_id: str | None,
          payload: str, now: datetime) -> bool:
    """True when stored now; False for a redelivery (already stored, nothing new)."""
    upsert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    return conn.execute(upsert(webhook_events).values(
        source=source, event_id=event_id, event_type=event_type, resource_id=resource_id, payload=payload,
        received_at=now,
    ).on_conflict_do_nothing(index_elements=["source", "event_id"])).rowcount == 1


def events_after(conn: Connection, source: str, after: int, limit: int, older_than: datetime) -> list:
    """Events of `source` past the cursor, oldest first; only rows at least a moment old, because ids are
    taken before commit and a younger row could still be followed by a lower id committing late."""
    events = webhook_events.c
    return conn.execute(select(events.id, events.event_type, events.resource_id)
                        .where(events.source == source, events.id > after, events.received_at <= older_than)
                        .order_by(events.id).limit(limit)).all()


def mark_requested(conn: Connection, ids: list[int], run_key: str) -> None:
    for start in range(0, len(ids), 1000):
        conn.execute(update(webhook_events).where(webhook_events.c.id.in_(ids[start:start + 1000]))
                     .values(run_key=run_key))


def prune_handled(conn: Connection, before: datetime) -> int:
    """Handled events (a run was requested for them) older than `before`."""
    return conn.execute(delete(webhook_events).where(webhook_events.c.run_key.is_not(None),
                                                     webhook_events.c.received_at < before)).rowcount
