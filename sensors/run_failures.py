"""import_failure_alert: a failed import run (scheduled, manual or webhook-driven) alerts through the notifier."""

from contextlib import closing

from dagster import DefaultSensorStatus, RunFailureSensorContext, run_failure_sensor

from jobs.catalog_jobs import CATALOG_JOBS
from jobs.invoice_jobs import INVOICE_JOBS
from jobs.region_jobs import REGION_JOBS
from jobs.stock_jobs import shopline_inventory_sync_job
from resources import NotifierResource


@run_failure_sensor(monitored_jobs=[*CATALOG_JOBS, *REGION_JOBS, *INVOICE_JOBS, shopline_inventory_sync_job],
                    default_status=DefaultSensorStatus.RUNNING,
                    description="Alerts (HUB_NOTIFY_WEBHOOK_URL, else the log) for every failed import, region, "
                    "invoice or Shopline inventory sync run.")
def import_failure_alert(context: RunFailureSensorContext, notifier: NotifierResource):
    run = context.dagster_run
    message = context.failure_event.message or "the run failed"
    with closing(notifier.create_notifier(context.log.error)) as channel:
        channel.send(f"run of {run.job_name} failed", message, severity="critical",
                     details={"run_id": run.run_id, "job": run.job_name, "tags": dict(run.tags)})


FAILURE_SENSORS = [import_failure_alert]
