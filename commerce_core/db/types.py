"""Column types that keep their meaning on both SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import Numeric, String
from sqlalchemy.types import DateTime, TypeDecorator


class ExactDecimalText(TypeDecorator):
    """SQLite has no exact decimal: store the canonical string instead of a float."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return str(Decimal(value))

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(value)


# NUMERIC on PostgreSQL, exact text on SQLite: an amount is never a float.
Money = Numeric(18, 4, asdecimal=True).with_variant(ExactDecimalText(), "sqlite")


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC in and out, also on SQLite which drops the offset."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware UTC datetime")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None or value.tzinfo is timezone.utc:
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
