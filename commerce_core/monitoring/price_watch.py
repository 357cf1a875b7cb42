"""Price and availability history and the alerts drawn from it (seller-monitoring design: change detection;
docs/background.md).

snapshot_day   one row per active product, currency and price type per day, with the seats;
               rewriting a day replaces it (idempotent per day)
detect_alerts  pandas over the history up to a day: price up/down past a percentage,
               sold out, back in stock, a new lowest price in 30 days
store_alerts   each alert once (unique key); unsent_alerts / mark_sent let a notifier
               deliver each exactly once even when a run is retried
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import pandas as pd
from sqlalchemy import Connection, Engine, delete, or_, select, update

from commerce_core.db.bulk import insert_rows, upsert_rows
from commerce_core.db.cursors import utcnow
from commerce_core.db.schema import price_alerts, price_history, product_prices, products

LOW_WINDOW_DAYS = 30
KINDS = ("price_up", "price_down", "sold_out", "back_in_stock", "new_low_30d")


@dataclass(frozen=True)
class Thresholds:
    up_pct: float = 10.0
    down_pct: float = 10.0


def snapshot_day(engine: Engine, day: date) -> int:
    """Replace the day's snapshot with the active catalog's prices valid now and its seats.

    Where a product has several valid prices of one currency and type, the lowest counts.
    """
    now = utcnow()
    with engine.begin() as conn:
        rows = conn.execute(
            select(products.c.id, product_prices.c.currency, product_prices.c.price_type, product_prices.c.amount,
                   products.c.available_seats)
            .join_from(products, product_prices, product_prices.c.product_id == products.c.id)
            .where(products.c.is_active.is_(True),
                   or_(product_prices.c.valid_from.is_(None), product_prices.c.valid_from <= now),
                   or_(product_prices.c.valid_to.is_(None), product_prices.c.valid_to > now)))
        snapshot: dict[tuple, dict] = {}
        for product_id, currency, price_type, amount, seats in rows:
            key = (product_id, currency, price_type)
            if key not in snapshot or amount < snapshot[key]["amount"]:
                snapshot[key] = {"snapshot_date": day, "product_id": product_id, "currency": currency,
                                 "price_type": price_type, "amount": amount, "available_seats": seats,
                                 "recorded_at": now}
        conn.execute(delete(price_history).where(price_history.c.snapshot_date == day))
        insert_rows(conn, price_history, list(snapshot.values()))
    return len(snapshot)


def load_history(conn: Connection, day: date, days: int = LOW_WINDOW_DAYS) -> pd.DataFrame:
    rows = conn.execute(
        select(price_history.c.snapshot_date, price_history.c.product_id, products.c.external_product_id,
               price_history.c.currency, price_history.c.price_type, price_history.c.amount,
               price_history.c.available_seats)
        .join(products, products.c.id == price_history.c.product_id)
        .where(price_history.c.snapshot_date >= day - timedelta(days=days), price_history.c.snapshot_date <= day))
    frame = pd.DataFrame(rows.all(), columns=["snapshot_date", "product_id", "external_product_id", "currency",
                                              "price_type", "amount", "available_seats"])
    frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"]).dt.date
    frame["amount"] = frame["amount"].map(Decimal)
    return frame


def detect_alerts(history: pd.DataFrame, day: date, thresholds: Thresholds) -> pd.DataFrame:
    """Alerts for `day` against the latest earlier snapshot (and the 30 days before for new lows)."""
    columns = ["kind", "product_id", "external_product_id", "currency", "price_type", "previous_value",
               "current_value", "change_pct"]
    today = history[history["snapshot_date"] == day]
    before = history[history["snapshot_date"] < day].sort_values("snapshot_date")
    if today.empty or before.empty:
        return pd.DataFrame(columns=columns)
    key = ["product_id", "currency", "price_type"]
    previous = before.groupby(key, as_index=False).last()
    lowest = before.groupby(key, as_index=False)["amount"].min().rename(columns={"amount": "low_30d"})
    prices = today.merge(previous[key + ["amount"]], on=key, suffixes=("", "_prev")).merge(lowest, on=key)
    prices["change_pct"] = prices.apply(
        lambda row: (row["amount"] - row["amount_prev"]) / row["amount_prev"] * 100 if row["amount_prev"] else None,
        axis=1)
    alerts = []
    for kind, chosen in (
            ("price_up", prices[prices["change_pct"].map(lambda p: p is not None and p >= thresholds.up_pct)]),
            ("price_down", prices[prices["change_pct"].map(lambda p: p is not None and p <= -thresholds.down_pct)]),
            ("new_low_30d", prices[prices["amount"] < prices["low_30d"]])):
        for row in chosen.itertuples():
            alerts.append((kind, row.product_id, row.external_product_id, row.currency, row.price_type,
                           row.low_30d if kind == "new_low_30d" else row.amount_prev, row.amount,
                           None if row.change_pct is None else round(row.change_pct, 2)))
    seats_now = today.drop_duplicates("product_id")[["product_id", "external_product_id", "available_seats"]]
    seats_before = previous.drop_duplicates("product_id")[["product_id", "available_seats"]]
    seats = seats_now.merge(seats_before, on="product_id", suffixes=("", "_prev")).dropna(
        subset=["available_seats", "available_seats_prev"])
    for row in seats.itertuples():
        kind = ("sold_out" if row.available_seats_prev > 0 and row.available_seats == 0 else
                "back_in_stock" if row.available_seats_prev == 0 and row.available_seats > 0 else None)
        if kind:
            alerts.append((kind, row.product_id, row.external_product_id, None, None,
                           Decimal(int(row.available_seats_prev)), Decimal(int(row.available_seats)), None))
    return pd.DataFrame(alerts, columns=columns)


def alert_key(kind: str, product_id, currency, price_type, day: date) -> str:
    return f"{kind}:{product_id}:{currency or '-'}:{price_type or '-'}:{day.isoformat()}"


def store_alerts(conn: Connection, alerts: pd.DataFrame, day: date) -> int:
    """Insert each alert once; an alert already stored (a rerun of the day) is left as it is."""
    now = utcnow()
    rows = [{"alert_key": alert_key(a.kind, a.product_id, a.currency, a.price_type, day), "snapshot_date": day,
             "product_id": a.product_id, "external_product_id": a.external_product_id, "kind": a.kind,
             "currency": a.currency, "price_type": a.price_type, "previous_value": a.previous_value,
             "current_value": a.current_value,
             "change_pct": None if a.change_pct is None or pd.isna(a.change_pct) else Decimal(str(a.change_pct)),
             "created_at": now, "sent_at": None} for a in alerts.itertuples()]
    upsert_rows(conn, price_alerts, rows, ["alert_key"], update_columns=[])
    return len(rows)


def unsent_alerts(conn: Connection, day: date) -> list[dict]:
    rows = conn.execute(select(price_alerts).where(price_alerts.c.snapshot_date == day,
                                                   price_alerts.c.sent_at.is_(None)).order_by(price_alerts.c.id))
    return [dict(row) for row in rows.mappings()]


def mark_sent(conn: Connection, alert_id: int, when: datetime) -> None:
    conn.execute(update(price_alerts).where(price_alerts.c.id == alert_id).values(sent_at=when))
