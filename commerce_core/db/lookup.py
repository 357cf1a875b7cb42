"""`column IN (many keys)` that stays cheap for thousands of keys.

SQLAlchemy expands IN into one bound parameter per key, and compiling ten
thousand of them costs more than the query; PostgreSQL takes the whole list as
one array parameter instead. SQLite keeps IN (callers chunk below its limit of
32,766 parameters).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ARRAY, Column, ColumnElement, Connection, any_, bindparam


def in_keys(conn: Connection, column: Column, keys: Sequence) -> ColumnElement[bool]:
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(keys), type_=ARRAY(column.type)))
    return column.in_(keys)
