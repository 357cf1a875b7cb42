"""shopline_inventory_sync_sensor: logged Next Engine stock pushes become a Shopline inventory sync run.

A tick reads the sync backlog (pushes pending, and failed ones whose retry is due) as one
aggregate: how many, the lowest and highest log id, the retries spent. That is the run key,
and the cursor remembers the last one asked for: a retried tick asks for the same run and
Dagster starts it once; a new push, a sent push or a spent retry changes the backlog and so
the key. A run that died without recording anything leaves the backlog as it was; the
every-10-minutes schedule sweeps it up.
"""


from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from commerce_core.connectors.inventory_sync import backlog
from commerce_core.db.cursors import utcnow
from jobs.stock_jobs import shopline_inventory_sync_job
from resources import CatalogDatabase

# Next Engine pushes an item about every 10 minutes: Shopline follows within seconds without busy polling.
TICK_SECONDS = 15


@sensor(job=shopline_inventory_sync_job, minimum_interval_seconds=TICK_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        description="Pending Next Engine stock pushes (and failed ones due for a retry) → one Shopline inventory "
        "sync run per change of the backlog.")
def shopline_inventory_sync_sensor(context: SensorEvaluationContext, catalog_db: CatalogDatabase):
    with catalog_db.engine.connect() as conn:
        count, low, high, retries = backlog(conn, utcnow())
    if not count:
        return SkipReason("no stock push waits for Shopline")
    key = f"inventory-sync:{low}-{high}:{count}:{retries}"
    if key == context.cursor:
        return SkipReason(f"{count} push(es) already handed to run key {key}")
    return SensorResult(
        run_requests=[RunRequest(run_key=key, tags={"hub/trigger": "stock-push"})],
        cursor=key,
    )


INVENTORY_SYNC_SENSORS = [shopline_inventory_sync_sensor]
