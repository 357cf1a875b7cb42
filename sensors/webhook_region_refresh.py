"""refresh_regions_after_webhook_import: products a webhook made us re-import go on to every region.

When a webhook-driven `serp_manual_import` run succeeds, each enabled region gets
a targeted `region_sync` of exactly those products (a price or availability
change refreshes only them); after a webhook-driven `shopline_import`, of the
products whose staged record that run wrote (an inventory event names a variant,
so only the run knows its product). The run key is the import run's id and the
region, so a sensor tick retried after a failure starts nothing twice.
"""

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunStatusSensorContext,
    SkipReason,
    run_status_sensor,
)

from commerce_core.catalog import import_jobs
from commerce_core.connectors.shopline_mapping import SHOPLINE_SUPPLIER_ID
from commerce_core.regions.config import load_regions
from jobs.catalog_jobs import serp_manual_import_job, shopline_import_job
from jobs.region_jobs import region_sync_job
from resources import CatalogDatabase


@run_status_sensor(run_status=DagsterRunStatus.SUCCESS, monitored_jobs=[serp_manual_import_job, shopline_import_job],
                   request_job=region_sync_job, default_status=DefaultSensorStatus.RUNNING,
                   description="After a webhook-driven re-import: a targeted refresh of those products per region.")
def refresh_regions_after_webhook_import(context: RunStatusSensorContext, catalog_db: CatalogDatabase):
    run = context.dagster_run
    if run.tags.get("hub/trigger") != "webhook":
        return SkipReason(f"run {run.run_id} was not started by a webhook")
    ops = run.run_config.get("ops", {})
    if "shopline_products" in ops:
        with catalog_db.engine.connect() as conn:
            product_ids = import_jobs.staged_by_run(conn, supplier_id=SHOPLINE_SUPPLIER_ID, run_id=run.run_id)
    else:
        product_ids = sorted(set(ops.get("serp_products", {}).get("config", {}).get("product_ids") or []))
    if not product_ids:
        return SkipReason(f"run {run.run_id} imported no product ids")
    return [
        RunRequest(
            run_key=f"webhook-refresh:{run.run_id}:{region.code}",
            partition_key=region.code,
            run_config={"ops": {"regional_snapshots": {"config": {"product_ids": product_ids}}}},
            tags={"hub/trigger": "webhook", "hub/after_run": run.run_id},
        )
        for region in load_regions().enabled()
    ]


REGION_REFRESH_SENSORS = [refresh_regions_after_webhook_import]
