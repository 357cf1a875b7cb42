"""`column IN (many keys)` that stays cheap for thousands of keys.

SQLAlchemy expands IN into one bound parameter per key, and compiling ten
thousand of them costs more than the query; PostgreSQL takes the whole list as
one array parameter instead. SQLite keeps IN (callers chunk below its limit of
32,766 parameters).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ARRAY, Column, ColumnElement, Connection, String, Uuid, any_, bindparam, cast, type_coerce


def in_keys(conn: Connection, column: Column, keys: Sequence) -> ColumnElement[bool]:
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(keys), type_=ARRAY(column.type)))
    return column.in_(keys)


def in_uuid_texts(conn: Connection, column: Column, texts: Sequence[str]) -> ColumnElement[bool]:
    """Like in_keys for a Uuid column, given the ids as the database renders them as text
    (`CAST(id AS VARCHAR)`): no UUID object is built or adapted per key."""
    if conn.dialect.name == "postgresql":
        return column == any_(cast(bindparam(None, list(texts), type_=ARRAY(String)), ARRAY(Uuid)))
    return type_coerce(column, String).in_(texts)
