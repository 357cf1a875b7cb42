"""supplier_events_sensor: webhook events in the inbox become targeted runs (seeds/000 Webhook 即時推送).

A tick reads each source's new events by cursor and folds them: SERP events of
any type become ONE manual import of those product ids (a deleted product
answers 404 there and is archived); Shopline product and inventory events one
`shopline_import`, order events one `orders_import`. Run keys are the source and
the inbox id range, so a tick retried after a failure asks for the same runs and
Dagster starts each once; each event keeps the run key it was handed to.
"""

import json
from datetime import timedelta

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from commerce_core.db.cursors import utcnow
from commerce_core.webhooks import inbox
from jobs.catalog_jobs import orders_import_job, serp_manual_import_job, shopline_import_job
from resources import CatalogDatabase

MAX_EVENTS_PER_TICK = 50_000
MAX_PRODUCTS_PER_RUN = 20_000  # a burst of 10,000 events still asks for one run
# Inbox ids are taken before commit; rows younger than this wait for the next tick.
COMMIT_LAG = timedelta(seconds=2)
SHOPLINE_ORDER_TOPICS = ("orders/create", "orders/paid", "orders/cancelled")


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
        first, last = serp[0].id, serp[-1].id
        product_ids = sorted({event.resource_id for event in serp if event.resource_id})
        for start in range(0, len(product_ids), MAX_PRODUCTS_PER_RUN):
            key = f"serp-events:{first}-{last}:{start}"
            requests.append(RunRequest(
                run_key=key, job_name=serp_manual_import_job.name,
                run_config={"ops": {"serp_products": {"config": {
                    "mode": "ids", "product_ids": product_ids[start:start + MAX_PRODUCTS_PER_RUN],
                    "requested_by": "supplier_events_sensor"}}}},
                tags={"hub/trigger": "webhook"},
            ))
        marks.append(([event.id for event in serp], f"serp-events:{first}-{last}"))
        cursor["serp"] = last
    if shopline:
        first, last = shopline[0].id, shopline[-1].id
        orders = [event for event in shopline if event.event_type in SHOPLINE_ORDER_TOPICS]
        catalog = [event for event in shopline if event.event_type not in SHOPLINE_ORDER_TOPICS]
        for events, job, name in ((catalog, shopline_import_job, "products"), (orders, orders_import_job, "orders")):
            if events:
                key = f"shopline-events:{name}:{first}-{last}"
                requests.append(RunRequest(run_key=key, job_name=job.name, tags={"hub/trigger": "webhook"}))
                marks.append(([event.id for event in events], key))
        cursor["shopline"] = last
    if not requests:
        return SkipReason("no new webhook events")
    with catalog_db.engine.begin() as conn:  # idempotent: a retried tick writes the same keys
        for ids, key in marks:
            inbox.mark_requested(conn, ids, key)
    return SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))


WEBHOOK_SENSORS = [supplier_events_sensor]
