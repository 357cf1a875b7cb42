"""Orders from Shopline (REST) and Next Engine (REST, rotating tokens) as unified orders (group `orders`)."""

import time
from contextlib import closing

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from commerce_core.orders.order_store import save_orders
from commerce_core.orders.unified import OrderRejected, from_nextengine, from_shopline
from hub_assets.metadata import markdown_table
from hub_assets.run_context import record_webhook_run
from resources import CatalogDatabase, NextEngineResource, ShoplineResource

ORDERS_GROUP = "orders"
ORDERS_OWNERS = ["team:orders"]
NEXTENGINE_ORDERS = "/api_v1_receiveorder_base/search"


def _unify(context: AssetExecutionContext, records, convert) -> tuple[list[dict], list[str]]:
    unified, rejects = [], []
    for record in records:
        try:
            unified.append(convert(record))
        except (OrderRejected, KeyError, TypeError, ValueError) as error:  # one bad order never stops the rest
            rejects.append(f"{record.get('id') or record.get('receive_order_id')}: {error}")
    for reject in rejects[:20]:
        context.log.warning(f"order rejected: {reject}")
    return unified, rejects


def _materialized(started: float, platform: str, fetched: int, rejects: list[str], result,
                  webhook_events: int = 0) -> MaterializeResult:
    return MaterializeResult(metadata={
        "dagster/row_count": fetched - len(rejects),
        "platform": platform,
        "fetched": fetched,
        "inserted": result.inserted,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "rejected": len(rejects),
        "customers": result.customers,
        "webhook_events": webhook_events,
        "preview": MetadataValue.md(markdown_table(["order", "email", "total", "lines"],
                                                   [tuple(p.values()) for p in result.preview]) or "none"),
        "duration_seconds": round(time.perf_counter() - started, 3),
    })


@asset(group_name=ORDERS_GROUP, owners=ORDERS_OWNERS, kinds={"python", "sql"},
       description="Shopline orders (REST, Link-header cursors) as unified orders with line items; customers "
       "kept with their Shopline id and de-duplicated by e-mail. Invoices are issued for these orders.")
def shopline_orders(context: AssetExecutionContext, catalog_db: CatalogDatabase,
                    shopline: ShoplineResource) -> MaterializeResult:
    started = time.perf_counter()
    # Order webhooks start this asset alone; the contract gives no by-id order read, so it reads the listing
    # (save_orders rewrites only orders whose content changed).
    webhook_events = record_webhook_run(context, catalog_db.engine)
    with closing(shopline.create_client(on_retry=context.log.warning)) as client:
        records = [order for page in client.rest("orders", limit=250) for order in page]
    unified, rejects = _unify(context, records, from_shopline)
    saved = save_orders(catalog_db.engine, "shopline", unified)
    return _materialized(started, "shopline", len(records), rejects, saved, webhook_events)


@asset(group_name=ORDERS_GROUP, owners=ORDERS_OWNERS, kinds={"python", "sql"},
       description="Next Engine orders (receiveorder search, rotating tokens) as unified orders; customers "
       "extracted from the orders and de-duplicated by e-mail (Next Engine has no customer API).")
def nextengine_orders(context: AssetExecutionContext, catalog_db: CatalogDatabase,
                      nextengine: NextEngineResource) -> MaterializeResult:
    started = time.perf_counter()
    engine = catalog_db.engine
    with closing(nextengine.create_client(engine, on_retry=context.log.warning)) as client:
        records = [order for page in client.search(NEXTENGINE_ORDERS, limit=nextengine.page_size) for order in page]
    unified, rejects = _unify(context, records, from_nextengine)
    return _materialized(started, "nextengine", len(records), rejects, save_orders(engine, "nextengine", unified))


ORDER_ASSETS = [shopline_orders, nextengine_orders]
