"""Named sync cursors (how far a source or a region has been synchronised), and the clock they use."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Connection, select

from commerce_core.db.schema import sync_cursors


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def get_cursor(conn: Connection, name: str) -> str | None:
    return conn.execute(select(sync_cursors.c.value).where(sync_cursors.c.name == name)).scalar()


def set_cursor(conn: Connection, name: str, value: str) -> None:
    updated = conn.execute(
        sync_cursors.update().where(sync_cursors.c.name == name).values(value=value, updated_at=utcnow())
    ).rowcount
    if not updated:
        conn.execute(sync_cursors.insert().values(name=name, value=value, updated_at=utcnow()))
