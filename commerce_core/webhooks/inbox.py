"""The webhook inbox: an event is stored once (by source + event id) before the sender gets its answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from commerce_core.db.schema import webhook_events


def store_many(conn: Connection, events: list[dict], now: datetime) -> list[bool]:
    """One statement for a batch (group commit); per event: stored now (True) or a redelivery (False)."""
    upsert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = upsert(webhook_events).on_conflict_do_nothing(index_elements=["source", "event_id"]).returning(
        webhook_events.c.source, webhook_events.c.event_id)
    stored = {tuple(row) for row in conn.execute(statement, [{**event, "received_at": now} for event in events])}
    answers, seen = [], set()
    for event in events:
        key = (event["source"], event["event_id"])
        answers.append(key in stored and key not in seen)
        seen.add(key)
    return answers


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


def record_run(conn: Connection, run_key: str, run_id: str) -> int:
    """The run started for `run_key` writes its id on the events it handles (the sensor only knew the key);
    idempotent, and a re-execution under the same key leaves its own id. Returns how many events it handles."""
    return conn.execute(update(webhook_events).where(webhook_events.c.run_key == run_key)
                        .values(run_id=run_id)).rowcount


def prune_handled(conn: Connection, before: datetime) -> int:
    """Handled events (a run was requested for them) older than `before`."""
    return conn.execute(delete(webhook_events).where(webhook_events.c.run_key.is_not(None),
                                                     webhook_events.c.received_at < before)).rowcount
