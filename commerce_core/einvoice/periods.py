"""Invoice periods: two months named by ROC year and the even month that ends them (11402 = Jan–Feb 2025)."""

from __future__ import annotations

import re
from datetime import date

_PERIOD = re.compile(r"\d{3}(0[2468]|1[02])")


def period_of(day: date) -> str:
    end_month = day.month + day.month % 2
    return f"{day.year - 1911:03d}{end_month:02d}"


def is_valid_period(period: str) -> bool:
    return bool(_PERIOD.fullmatch(period))


def period_months(period: str) -> tuple[date, date]:
    """First day of the period and first day after it."""
    year, end_month = int(period[:3]) + 1911, int(period[3:])
    start = date(year, end_month - 1, 1)
    after = date(year + 1, 1, 1) if end_month == 12 else date(year, end_month + 1, 1)
    return start, after
