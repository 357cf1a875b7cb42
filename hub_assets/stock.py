"""Stock as the operators see it in Dagster: reconciliation of Redis and the ledger, and stock levels."""

import time
from contextlib import closing

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field
from sqlalchemy import func, insert, select

from commerce_core.db.cursors import utcnow
from commerce_core.db.schema import stock_discrepancies, stock_levels
from commerce_core.stock.ledger import low_stock
from commerce_core.stock.reconciliation import reconcile
from hub_assets.metadata import markdown_table
from resources import CatalogDatabase, NotifierResource, StockRedisResource

STOCK_GROUP = "stock"
STOCK_OWNERS = ["team:stock"]


@asset(
    group_name=STOCK_GROUP,
    owners=STOCK_OWNERS,
    kinds={"python", "redis", "sql"},
    description="Redis stock counters and the stock_levels projection checked against the database ledger "
    "(the system of record): Redis repaired from the database, every difference recorded in "
    "stock_discrepancies and alerted; holds past their time released.",
)
def stock_reconciliation(context: AssetExecutionContext, catalog_db: CatalogDatabase,
                         stock_redis: StockRedisResource, notifier: NotifierResource) -> MaterializeResult:
    started = time.perf_counter()
    engine = catalog_db.engine
    client = stock_redis.create_client()
    try:
        result = reconcile(engine, client)
    finally:
        if client is not None:
            client.close()
    now = utcnow()
    rows = [{"checked_at": now, "sku": m["sku"], "kind": "ledger", "details": m, "dagster_run_id": context.run.run_id}
            for m in result.ledger_mismatches]
    rows += [{"checked_at": now, "sku": r["sku"], "kind": "redis", "details": r, "dagster_run_id": context.run.run_id}
             for r in result.redis_repaired]
    if rows:
        with engine.begin() as conn:
            conn.execute(insert(stock_discrepancies), rows)
        with closing(notifier.create_notifier(context.log.error)) as channel:
            channel.send(
                f"stock reconciliation found {len(rows)} difference(s)",
                markdown_table(["sku", "kind", "details"], [(r["sku"], r["kind"], r["details"]) for r in rows[:20]]),
                severity="critical" if result.ledger_mismatches else "warning",
                details={"ledger": len(result.ledger_mismatches), "redis": len(result.redis_repaired)},
            )
    return MaterializeResult(metadata={
        "dagster/row_count": result.skus,
        "redis_checked": client is not None,
        "ledger_mismatches": len(result.ledger_mismatches),
        "redis_repaired": len(result.redis_repaired),
        "redis_loaded": result.redis_loaded,
        "expired_holds_released": result.expired_released,
        "differences": MetadataValue.md(markdown_table(["sku", "kind", "details"],
                                                       [(r["sku"], r["kind"], r["details"]) for r in rows[:10]])
                                        if rows else "none"),
        "duration_seconds": round(time.perf_counter() - started, 3),
    })


class StockLevelsConfig(Config):
    low_stock_below: int = Field(default=10, ge=1, description="A SKU is low when fewer are available.")


@asset(
    group_name=STOCK_GROUP,
    owners=STOCK_OWNERS,
    kinds={"python", "sql"},
    description="Stock levels as the ledger says now: SKUs kept, sold out, unlimited, and the low-stock list.",
)
def stock_levels_overview(context: AssetExecutionContext, config: StockLevelsConfig,
                          catalog_db: CatalogDatabase) -> MaterializeResult:
    levels = stock_levels.c
    with catalog_db.engine.connect() as conn:
        total, sold_out, unlimited = conn.execute(select(
            func.count(),
            func.count().filter(~levels.unlimited & (levels.on_hand - levels.reserved <= 0)),
            func.count().filter(levels.unlimited),
        )).one()
        low = low_stock(conn, config.low_stock_below, limit=50)
    return MaterializeResult(metadata={
        "dagster/row_count": total,
        "sold_out": sold_out,
        "unlimited": unlimited,
        "low_stock": len(low),
        "low_stock_list": MetadataValue.md(markdown_table(
            ["sku", "available", "on hand", "reserved"],
            [(item["sku"], item["available"], item["onHand"], item["reserved"]) for item in low[:20]],
        ) if low else "none"),
    })


STOCK_ASSETS = [stock_reconciliation, stock_levels_overview]
