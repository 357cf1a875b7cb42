"""Applying stock pushes from Next Engine (and other order/stock systems) to the ledger.

Every push is logged once in inventory_sync_log before it is answered; a replay
(same store, SKU, ts and signature) changes nothing. Pushes arrive out of order:
one older than the newest applied for the SKU is logged as stale and leaves the
newer stock alone. An applied push waits as `pending` for the shopline_inventory_sync asset,
which sends it to Shopline outside the request (commerce_core/connectors/inventory_sync.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from commerce_core.db.schema import inventory_sync_log, stock_levels
from commerce_core.stock.ledger import set_stock
from commerce_core.stock.nextengine_push import StockPush


def apply_push(conn: Connection, platform: str, push: StockPush, now: datetime) -> tuple[str, tuple | None]:
    """Returns (outcome, change): outcome applied | stale | replay; change as set_stock returns it, or None."""
    upsert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    logged = conn.execute(upsert(inventory_sync_log).values(
        platform=platform, store_account=push.store_account, sku=push.code, stock=push.stock,
        sent_at=push.sent_at, signature=push.signature, outcome="applied", received_at=now, sync_status="pending",
    ).on_conflict_do_nothing(index_elements=["platform", "store_account", "sku", "sent_at", "signature"])).rowcount
    if not logged:
        return "replay", None
    last = conn.execute(select(stock_levels.c.last_push_at).where(stock_levels.c.sku == push.code)
                        .with_for_update()).scalar()
    if last is not None and push.sent_at < last:
        conn.execute(update(inventory_sync_log).where(
            inventory_sync_log.c.platform == platform, inventory_sync_log.c.store_account == push.store_account,
            inventory_sync_log.c.sku == push.code, inventory_sync_log.c.sent_at == push.sent_at,
            inventory_sync_log.c.signature == push.signature,
        ).values(outcome="stale", sync_status="superseded", processed_at=now,
                 error_message="older than the push already applied for this SKU: not sent to Shopline"))
        return "stale", None
    change = set_stock(conn, push.code, push.stock, now, source=platform, entry_type="push")
    conn.execute(update(stock_levels).where(stock_levels.c.sku == push.code).values(last_push_at=push.sent_at))
    return "applied", change
