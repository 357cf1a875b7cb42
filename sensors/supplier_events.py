"""supplier_events_sensor: webhook events in the inbox become targeted runs (GlobalHub design: Webhook 即時推送;
docs/background.md).

A tick reads each source's new events by cursor and folds them per product:
SERP events of any type become ONE manual import of those product ids (a
deleted product answers 404 there and is archived); Shopline product events
and inventory level events ONE `shopline_import` of those product ids and
variant ids (a deleted product is missing from the store's answer and is
archived); order events ONE run of `shopline_orders`. Run keys are the source
and the inbox id range, so a tick retried after a failure asks for the same
runs and Dagster starts each once. Each event keeps the key of the run that
handles it, and that run writes its run id beside it when it starts.
"""

import json
from collections.abc import Callable
from datetime import timedelta

from dagster import AssetKey, DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from commerce_core.db.cursors import utcnow
from commerce_core.webhooks import inbox
from jobs.catalog_jobs import orders_import_job, serp_manual_import_job, shopline_import_job
from resources import CatalogDatabase

MAX_EVENTS_PER_TICK = 50_000
MAX_PRODUCTS_PER_RUN = 20_000  # a burst of 10,000 events still asks for one run
# Inbox ids are taken before commit; rows younger than this wait for the next tick.
COMMIT_LAG = timedelta(seconds=2)
SHOPLINE_ORDER_TOPICS = ("orders/create", "orders/paid", "orders/cancelled")
SHOPLINE_INVENTORY_TOPIC = "inventory_levels/update"  # names a variant, not a product
WEBHOOK_TAGS = {"hub/trigger": "webhook"}

Marks = list[tuple[list[int], str]]  # inbox ids and the run key they were handed to


def _targeted_runs(base_key: str, events: list, item_of: Callable, job_name: str,
                   run_config: Callable[[list[tuple[str, str]]], dict]) -> tuple[list[RunRequest], Marks]:
    """Events folded per item ((kind, id)), MAX_PRODUCTS_PER_RUN items a run (key: base key and chunk start);
    every event is marked with the key of the run that re-reads its item."""
    by_item: dict[tuple[str, str], list[int]] = {}
    unkeyed = []  # the ingress refuses bodies without the id; such a row still belongs to this tick
    for event in events:
        if event.resource_id:
            by_item.setdefault(item_of(event), []).append(event.id)
        else:
            unkeyed.append(event.id)
    items = sorted(by_item)
    requests, marks = [], []
    for start in range(0, len(items), MAX_PRODUCTS_PER_RUN):
        chunk = items[start:start + MAX_PRODUCTS_PER_RUN]
        key = f"{base_key}:{start}"
        requests.append(RunRequest(run_key=key, job_name=job_name, run_config=run_config(chunk), tags=WEBHOOK_TAGS))
        marks.append(([event_id for item in chunk for event_id in by_item[item]], key))
    if unkeyed and marks:
        marks[0][0].extend(unkeyed)
    return requests, marks


def _serp_config(items: list[tuple[str, str]]) -> dict:
    return {"ops": {"serp_products": {"config": {
        "mode": "ids", "product_ids": [product_id for _, product_id in items],
        "requested_by": "supplier_events_sensor"}}}}


def _shopline_config(items: list[tuple[str, str]]) -> dict:
    return {"ops": {"shopline_products": {"config": {
        "product_ids": [i for kind, i in items if kind == "product"],
        "variant_ids": [i for kind, i in items if kind == "variant"],
        "requested_by": "supplier_events_sensor"}}}}


def _shopline_item(event) -> tuple[str, str]:
    return ("variant" if event.event_type == SHOPLINE_INVENTORY_TOPIC else "product", event.resource_id)


@sensor(jobs=[serp_manual_import_job, shopline_import_job, orders_import_job], minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
        description="Webhook events (SERP, Shopline) → one targeted run per source and tick.")
def supplier_events_sensor(context: SensorEvaluationContext, catalog_db: CatalogDatabase):
    cursor = json.loads(context.cursor) if context.cursor else {}
    requests, marks = [], []
    with catalog_db.engine.connect() as conn:
        serp = inbox.events_after(conn, "serp", cursor.get("serp", 0), MAX_EVENTS_PER_TICK, utcnow() - COMMIT_LAG)
        shopline = inbox.events_after(conn, "shopline", cursor.get("shopline", 0), MAX_EVENTS_PER_TICK,
                                      utcnow() - COMMIT_LAG)
    if serp:
        runs, handed = _targeted_runs(f"serp-events:{serp[0].id}-{serp[-1].id}", serp,
                                      lambda event: ("product", event.resource_id), serp_manual_import_job.name,
                                      _serp_config)
        requests += runs
        marks += handed
        cursor["serp"] = serp[-1].id
    if shopline:
        first, last = shopline[0].id, shopline[-1].id
        orders = [event for event in shopline if event.event_type in SHOPLINE_ORDER_TOPICS]
        catalog = [event for event in shopline if event.event_type not in SHOPLINE_ORDER_TOPICS]
        if catalog:
            runs, handed = _targeted_runs(f"shopline-events:products:{first}-{last}", catalog, _shopline_item,
                                          shopline_import_job.name, _shopline_config)
            requests += runs
            marks += handed
        if orders:
            # No by-id order read in the contract: the run reads Shopline's order listing, and only that asset
            # (Next Engine's orders have their own schedule).
            key = f"shopline-events:orders:{first}-{last}"
            requests.append(RunRequest(run_key=key, job_name=orders_import_job.name, tags=WEBHOOK_TAGS,
                                       asset_selection=[AssetKey("shopline_orders")]))
            marks.append(([event.id for event in orders], key))
        cursor["shopline"] = last
    if not requests:
        return SkipReason("no new webhook events")
    with catalog_db.engine.begin() as conn:  # idempotent: a retried tick writes the same keys
        for ids, key in marks:
            inbox.mark_requested(conn, ids, key)
    return SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))


WEBHOOK_SENSORS = [supplier_events_sensor]
