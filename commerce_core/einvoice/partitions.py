"""Monthly partitions of `invoices` on PostgreSQL, and archiving months past the hot year.

Partitions are created as months arrive (before their rows are inserted), so
there is no DEFAULT partition for rows to get stuck in. Archiving a month writes
its rows to a gzip'd JSON-lines file, checks the count read back, and only then
drops the month (DETACH + DROP on PostgreSQL, DELETE on SQLite).
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Connection, Engine, func, select

from commerce_core.db.cursors import utcnow
from commerce_core.db.schema import invoices

FINAL_STATUSES = ("confirmed", "abandoned")


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def partition_name(month: date) -> str:
    return f"invoices_y{month.year}m{month.month:02d}"


def ensure_month_partitions(engine: Engine, days: Iterable[date]) -> None:
    """Create missing month partitions in a short transaction of their own.

    Attaching a partition locks the whole table, so it must not happen inside a
    long upload transaction (two uploads would deadlock on it); an advisory lock
    lets one process create a month while the others wait and then find it there.
    """
    if engine.dialect.name != "postgresql":
        return
    wanted = {month_start(day) for day in days}
    with engine.connect() as conn:
        missing = sorted(wanted - set(months_present(conn)))
    if not missing:
        return
    with engine.begin() as conn:
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':invoices:partitions'))")
        for month in sorted(wanted - set(months_present(conn))):
            conn.exec_driver_sql(
                f"CREATE TABLE IF NOT EXISTS {partition_name(month)} PARTITION OF invoices "
                f"FOR VALUES FROM ('{month.isoformat()}') TO ('{next_month(month).isoformat()}')")


def months_present(conn: Connection) -> list[date]:
    if conn.dialect.name == "postgresql":
        names = conn.exec_driver_sql(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'invoices' "
            "AND p.relnamespace = to_regnamespace(current_schema())::oid").scalars()
        return sorted(date(int(name[10:14]), int(name[15:17]), 1) for name in names)
    days = conn.execute(select(invoices.c.invoice_date).distinct()).scalars()
    return sorted({month_start(day if isinstance(day, date) else date.fromisoformat(day)) for day in days})


class ArchiveRefused(RuntimeError):
    """A month still holds invoices Turnkey has not settled."""


@dataclass(frozen=True)
class ArchivedMonth:
    month: date
    rows: int
    path: Path


def archive_month(engine: Engine, month: date, archive_dir: Path) -> ArchivedMonth:
    after = next_month(month)
    in_month = (invoices.c.invoice_date >= month, invoices.c.invoice_date < after)
    archive_dir.mkdir(parents=True, exist_ok=True)
    path = archive_dir / f"{partition_name(month)}.jsonl.gz"
    if path.exists():  # a late upload brought the month back: keep both, never replace an archive
        path = archive_dir / f"{partition_name(month)}-{utcnow():%Y%m%dT%H%M%S}.jsonl.gz"
    with engine.begin() as conn:
        unsettled = conn.execute(select(func.count()).select_from(invoices).where(
            *in_month, invoices.c.status.notin_(FINAL_STATUSES))).scalar_one()
        if unsettled:
            raise ArchiveRefused(f"{month:%Y-%m} still has {unsettled} invoice(s) not confirmed or abandoned")
        temporary = path.with_suffix(".part")
        written = 0
        with gzip.open(temporary, "wt", encoding="utf-8") as out:
            for row in conn.execute(select(invoices).where(*in_month)).mappings():
                out.write(json.dumps(dict(row), default=str, ensure_ascii=False) + "\n")
                written += 1
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        with gzip.open(temporary, "rt", encoding="utf-8") as back:
            if sum(1 for _ in back) != written:
                raise RuntimeError(f"archive {temporary} does not read back {written} rows")
        os.replace(temporary, path)
        if conn.dialect.name == "postgresql":
            if month in months_present(conn):
                conn.exec_driver_sql(f"ALTER TABLE invoices DETACH PARTITION {partition_name(month)}")
                conn.exec_driver_sql(f"DROP TABLE {partition_name(month)}")
        else:
            conn.execute(invoices.delete().where(*in_month))
    return ArchivedMonth(month, written, path)


def months_to_archive(conn: Connection, today: date, keep_months: int = 12) -> list[date]:
    """Months wholly older than the hot window (the current month and the `keep_months` − 1 before it)."""
    cutoff = month_start(today)
    for _ in range(keep_months - 1):
        cutoff = date(cutoff.year - 1, 12, 1) if cutoff.month == 1 else date(cutoff.year, cutoff.month - 1, 1)
    return [month for month in months_present(conn) if month < cutoff]
