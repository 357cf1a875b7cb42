"""shopline_inventory_sync: Next Engine stock pushes reach Shopline's inventory (connector design:
InventoryService; docs/background.md).

The stock service logs each push (inventory_sync_log, `pending`) and answers Next Engine at
once; this asset sends the logged levels to Shopline afterwards, so the push request never
waits for Shopline. Triggered by shopline_inventory_sync_sensor and a schedule.
"""

import time
from contextlib import closing

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field
from sqlalchemy import func, select

from commerce_core.connectors.inventory_sync import RetryPolicy, refresh_variants, sync_pending
from commerce_core.db.cursors import utcnow
from commerce_core.db.schema import inventory_sync_log
from hub_assets.metadata import markdown_table
from hub_assets.shopline_products import shopline_products
from resources import CatalogDatabase, NotifierResource, ShoplineResource


class InventorySyncConfig(Config):
    max_attempts: int = Field(default=5, ge=1, description="Attempts per push before it stays failed and alerts.")
    backoff_seconds: float = Field(default=60.0, ge=0,
                                   description="Wait before the 2nd attempt; doubled per attempt, at most an hour.")
    max_pushes: int = Field(default=5000, ge=1, description="SKUs sent per run; the rest wait for the next run.")


@asset(
    deps=[shopline_products],
    group_name="stock",
    owners=["team:stock"],
    kinds={"python", "sql"},
    tags={"hub/target": "shopline"},
    description="Shopline inventory levels set from Next Engine stock pushes: the newest pending push of each "
    "SKU in inventory_sync_log is set on the SKU's Shopline variant (found in the imported Shopline products) "
    "through inventory_levels/set.json; older pushes are marked superseded, failures are retried with backoff "
    "and alerted once they stay failed.",
)
def shopline_inventory_sync(context: AssetExecutionContext, config: InventorySyncConfig, catalog_db: CatalogDatabase,
                            shopline: ShoplineResource, notifier: NotifierResource) -> MaterializeResult:
    started = time.perf_counter()
    engine = catalog_db.engine
    now = utcnow()
    reread = refresh_variants(engine, now)
    policy = RetryPolicy(max_attempts=config.max_attempts, backoff_seconds=config.backoff_seconds)
    with closing(shopline.create_client(on_retry=context.log.warning)) as client:
        result = sync_pending(engine, client, lambda: shopline.inventory_location_id or client.default_location_id(),
                              now, policy, limit=config.max_pushes)
    if result.final_failures:
        with closing(notifier.create_notifier(context.log.error)) as channel:
            channel.send(
                f"{len(result.final_failures)} stock push(es) could not be set in Shopline",
                markdown_table(["log id", "sku", "attempts", "error"],
                               [(f["id"], f["sku"], f["attempts"], f["error"]) for f in result.final_failures[:20]]),
                severity="critical",
                details={"failed": len(result.final_failures), "run_id": context.run.run_id},
            )
    if result.deferred:
        context.log.warning(f"Shopline's circuit is open: {result.deferred} push(es) wait for the next run")
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(inventory_sync_log.c.sync_status, func.count())
                                     .group_by(inventory_sync_log.c.sync_status)).all())
    return MaterializeResult(metadata={
        "dagster/row_count": result.succeeded,
        "due": result.due,
        "succeeded": result.succeeded,
        "superseded": result.superseded,
        "skipped_unlimited": result.skipped,
        "skipped_not_in_shopline": result.not_in_shopline,
        "retrying": result.retrying,
        "failed": len(result.final_failures),
        "deferred_circuit_open": result.deferred,
        "variants_products_reread": reread,
        "log_by_status": MetadataValue.json(statuses),
        "preview": MetadataValue.md(markdown_table(["sku", "variant", "available"],
                                                   [(s["sku"], s["variant_id"], s["available"])
                                                    for s in result.sent[:10]]) if result.sent else "none"),
        "duration_seconds": round(time.perf_counter() - started, 3),
    })


INVENTORY_SYNC_ASSETS = [shopline_inventory_sync]
