"""E-invoicing sensors: arrived files become intake runs; days with unissued invoices become batch runs.

invoice_files_sensor keeps, per finished file, the size and mtime it last asked a
run for: a new or rewritten file asks again, an unchanged one never does. Run keys
are a hash of exactly those files, so a retried tick asks for the same runs.
invoice_days_sensor asks for a day's batch whenever that day has invoices without
a number or a file; its run key holds the newest upload and the newest number pool,
so new work or a new E0501 range (after an exhausted pool) gets a fresh run.
"""

import hashlib
import json

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor
from sqlalchemy import func, select

from commerce_core.db.schema import invoice_number_pools
from commerce_core.einvoice import invoice_store
from hub_assets.invoices import invoice_batches
from jobs.invoice_jobs import invoice_batch_job, invoice_upload_job, number_pool_import_job
from resources import CatalogDatabase, InvoiceUploadsResource, TurnkeyResource

JOBS_BY_KIND = {"e0501": (number_pool_import_job, "number_pools"), "invoices": (invoice_upload_job, "invoice_uploads")}


@sensor(jobs=[number_pool_import_job, invoice_upload_job], minimum_interval_seconds=15,
        default_status=DefaultSensorStatus.RUNNING,
        description="New E0501 files and invoice CSVs (finished writing) → one intake run per kind.")
def invoice_files_sensor(context: SensorEvaluationContext, uploads: InvoiceUploadsResource,
                         turnkey: TurnkeyResource):
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    present: dict[str, str] = {}
    fresh: dict[str, list[str]] = {"e0501": [], "invoices": []}
    for arrived in uploads.folders(turnkey.folders()).arrived():
        path = str(arrived.path)
        present[path] = arrived.signature
        if seen.get(path) != arrived.signature:
            fresh[arrived.kind].append(path)
    requests = []
    for kind, paths in fresh.items():
        if not paths:
            continue
        job, asset_name = JOBS_BY_KIND[kind]
        digest = hashlib.sha1("\n".join(f"{p}={present[p]}" for p in sorted(paths)).encode()).hexdigest()[:16]
        requests.append(RunRequest(run_key=f"{kind}-files:{digest}", job_name=job.name,
                                   run_config={"ops": {asset_name: {"config": {"files": sorted(paths)}}}},
                                   tags={"hub/trigger": "upload", "hub/files": str(len(paths))}))
    # Files that left the folders leave the cursor too, so it stays as small as the folders.
    cursor = json.dumps(present, sort_keys=True)
    if not requests:
        return SensorResult(skip_reason=SkipReason("no new or changed files"), cursor=cursor)
    return SensorResult(run_requests=requests, cursor=cursor)


@sensor(job=invoice_batch_job, minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING,
        description="Days with invoices still to number or hand to Turnkey → that day's invoice batch.")
def invoice_days_sensor(context: SensorEvaluationContext, catalog_db: CatalogDatabase):
    partitions = invoice_batches.partitions_def
    with catalog_db.engine.connect() as conn:
        waiting = invoice_store.days_waiting(conn)
        pools_version = conn.execute(select(func.max(invoice_number_pools.c.id))).scalar() or 0
    keys = set(partitions.get_partition_keys())
    requests = [RunRequest(partition_key=day.isoformat(), run_key=f"invoice-day:{day}:{upload}:{pools_version}",
                           tags={"hub/trigger": "upload"})
                for day, upload in waiting if day.isoformat() in keys]
    if not requests:
        return SkipReason("no day has invoices waiting")
    return SensorResult(run_requests=requests)


INVOICE_SENSORS = [invoice_files_sensor, invoice_days_sensor]
