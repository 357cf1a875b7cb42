"""Set-based writes: COPY on PostgreSQL, batched executemany on SQLite.

A round trip per row is what made the seed's importer slow (one SaveChanges per
product); everything here moves rows in bulk inside the caller's transaction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence

import orjson
from sqlalchemy import JSON, Connection, Table, bindparam, insert, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from commerce_core.db.types import UtcDateTime

SQLITE_BATCH = 2000


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping]) -> int:
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        _copy_into(conn, table.name, table, rows)
    else:
        for start in range(0, len(rows), SQLITE_BATCH):
            conn.execute(insert(table), list(rows[start : start + SQLITE_BATCH]))
    return len(rows)


def upsert_rows(conn: Connection, table: Table, rows: Sequence[Mapping], keys: Sequence[str],
                update_columns: Sequence[str] | None = None) -> int:
    """Insert rows; where the keys already exist, overwrite `update_columns` (default: all non-key)."""
    if not rows:
        return 0
    columns = list(rows[0].keys())
    updates = list(update_columns) if update_columns is not None else [c for c in columns if c not in keys]
    if conn.dialect.name == "postgresql":
        staging = f"_stage_{table.name}"
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        conn.exec_driver_sql(f"TRUNCATE {staging}")
        _copy_into(conn, staging, table, rows)
        column_list = ", ".join(columns)
        action = ("DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in updates)) if updates else "DO NOTHING"
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({column_list}) SELECT {column_list} FROM {staging} "
            f"ON CONFLICT ({', '.join(keys)}) {action}"
        )
    else:
        statement = sqlite_insert(table)
        if updates:
            statement = statement.on_conflict_do_update(
                index_elements=list(keys), set_={c: statement.excluded[c] for c in updates}
            )
        else:
            statement = statement.on_conflict_do_nothing(index_elements=list(keys))
        for start in range(0, len(rows), SQLITE_BATCH):
            conn.execute(statement, list(rows[start : start + SQLITE_BATCH]))
    return len(rows)


def save_rows(conn: Connection, table: Table, rows: Sequence[Mapping], keys: Sequence[str], *,
              is_new: Sequence[bool], update_columns: Sequence[str] | None = None) -> None:
    """Rows known to be new go straight in (COPY); the others are upserted."""
    insert_rows(conn, table, [row for row, new in zip(rows, is_new) if new])
    upsert_rows(conn, table, [row for row, new in zip(rows, is_new) if not new], keys, update_columns)


def update_rows(conn: Connection, table: Table, rows: Sequence[Mapping], keys: Sequence[str]) -> int:
    """UPDATE existing rows matched on keys, one executemany (batched by the driver)."""
    if not rows:
        return 0
    columns = [c for c in rows[0].keys() if c not in keys]
    statement = (
        table.update()
        .where(*[table.c[k] == bindparam(f"k_{k}") for k in keys])
        .values({c: bindparam(f"v_{c}") for c in columns})
    )
    params = [{**{f"k_{k}": r[k] for k in keys}, **{f"v_{c}": r[c] for c in columns}} for r in rows]
    for start in range(0, len(params), SQLITE_BATCH):
        conn.execute(statement, params[start : start + SQLITE_BATCH])
    return len(rows)


def delete_where_in(conn: Connection, table: Table, column: str, values: Iterable) -> None:
    values = list(values)
    if not values:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"DELETE FROM {table.name} WHERE {column} = ANY(:values)"), {"values": values})
        return
    for start in range(0, len(values), 500):
        conn.execute(table.delete().where(table.c[column].in_(values[start : start + 500])))


def _copy_into(conn: Connection, target: str, table: Table, rows: Sequence[Mapping]) -> None:
    """COPY in CSV written by the C csv module; NULL is a sentinel no real value can equal."""
    columns = list(rows[0].keys())
    json_positions = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
    nullable = [c for c in columns if table.c[c].nullable]
    # COPY bypasses UtcDateTime's bind check, so its rule is enforced here.
    utc_columns = [c for c in columns if isinstance(table.c[c].type, UtcDateTime)]
    for row in rows:
        for column in utc_columns:
            value = row[column]
            if value is not None and value.tzinfo is None:
                raise ValueError(f"naive datetime {value!r} for {table.name}.{column}: pass an aware UTC datetime")
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    for row in rows:
        values = [_COPY_NULL if row[c] is None else row[c] for c in columns]
        for position in json_positions:
            if values[position] is not _COPY_NULL:
                values[position] = orjson.dumps(values[position]).decode()
        writer.writerow(values)
    buffer.seek(0)
    force_null = f", FORCE_NULL ({', '.join(nullable)})" if nullable else ""
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.copy_expert(
            f"COPY {target} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '{_COPY_NULL}'{force_null})",
            buffer,
        )
    finally:
        cursor.close()


# Unit separator: never a whole value of ours, and allowed in PostgreSQL text.
_COPY_NULL = "\x1f"
