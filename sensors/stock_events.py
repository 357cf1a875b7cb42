"""stock_events_sensor: stock pushes, adjustments and sell-outs become targeted regional refreshes.

The cursor is the last stock-ledger id read. A tick folds the new events into
the set of affected products and asks for one run per enabled region with
those product ids; run keys are made of the region and the ledger id range, so
a tick retried after a failure asks for the same runs and Dagster starts each
once.
"""

from datetime import timedelta

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor
from sqlalchemy import select

from commerce_core.db.cursors import utcnow

from commerce_core.db.schema import products, stock_ledger, stock_levels
from commerce_core.regions.config import load_regions
from jobs.region_jobs import region_sync_job
from resources import CatalogDatabase

EVENT_TYPES = ("push", "adjust")  # stock set by Next Engine or the catalog
SALE_TYPES = ("reserve", "confirm")  # these matter when they sell a SKU out
MAX_EVENTS_PER_TICK = 20_000
MAX_PRODUCTS_PER_RUN = 5_000
# Ledger ids are taken before commit: a row may become visible after a higher id was read. Rows
# younger than this are left for the next tick, so the cursor never passes an uncommitted one.
COMMIT_LAG = timedelta(seconds=10)


@sensor(job=region_sync_job, minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING,
        description="Stock pushes, adjustments and sell-outs → a targeted refresh of those products in every region.")
def stock_events_sensor(context: SensorEvaluationContext, catalog_db: CatalogDatabase):
    after = int(context.cursor or 0)
    ledger = stock_ledger.c
    with catalog_db.engine.connect() as conn:
        events = conn.execute(
            select(ledger.id, ledger.sku, ledger.entry_type)
            .where(ledger.id > after, ledger.entry_type.in_(EVENT_TYPES + SALE_TYPES),
                   ledger.created_at <= utcnow() - COMMIT_LAG)
            .order_by(ledger.id).limit(MAX_EVENTS_PER_TICK)
        ).all()
        if not events:
            return SkipReason(f"no stock events after ledger id {after}")
        changed = {sku for _, sku, kind in events if kind in EVENT_TYPES}
        sold = {sku for _, sku, kind in events if kind in SALE_TYPES} - changed
        if sold:
            levels = stock_levels.c
            changed |= set(conn.execute(select(levels.sku).where(
                levels.sku.in_(sorted(sold)), ~levels.unlimited, levels.on_hand - levels.reserved <= 0)).scalars())
        known = sorted(conn.execute(select(products.c.external_product_id).where(
            products.c.external_product_id.in_(sorted(changed)))).scalars()) if changed else []
    last = events[-1][0]
    if not known:
        return SensorResult(skip_reason=SkipReason(f"{len(events)} stock events, none for a catalog product"),
                            cursor=str(last))
    requests = [
        RunRequest(
            run_key=f"stock-events:{region.code}:{after + 1}-{last}:{start}",
            partition_key=region.code,
            run_config={"ops": {"regional_snapshots": {"config": {"product_ids": known[start:start + MAX_PRODUCTS_PER_RUN]}}}},
            tags={"hub/trigger": "stock-events"},
        )
        for region in load_regions().enabled()
        for start in range(0, len(known), MAX_PRODUCTS_PER_RUN)
    ]
    return SensorResult(run_requests=requests, cursor=str(last))


STOCK_SENSORS = [stock_events_sensor]
