"""E-invoicing schedules (Asia/Taipei): yesterday's batch after midnight, Turnkey results every 5 minutes
(the e-invoice capacity plan, docs/background.md: the worker pulls pending work every 5 minutes), archiving monthly."""

from datetime import timedelta

from dagster import DefaultScheduleStatus, RunRequest, ScheduleDefinition, ScheduleEvaluationContext, schedule

from jobs.invoice_jobs import archive_invoices, invoice_batch_job, turnkey_results_job
from schedules.catalog_schedules import TIMEZONE


@schedule(job=invoice_batch_job, cron_schedule="30 0 * * *", execution_timezone=TIMEZONE,
          default_status=DefaultScheduleStatus.RUNNING,
          description="Close yesterday's batch: anything uploaded late for it is numbered and handed over.")
def invoice_batch_daily(context: ScheduleEvaluationContext) -> RunRequest:
    day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    return RunRequest(partition_key=day, run_key=f"invoice-batch-daily:{day}")


turnkey_results_schedule = ScheduleDefinition(
    name="turnkey_results_every_5_minutes", job=turnkey_results_job, cron_schedule="*/5 * * * *",
    execution_timezone=TIMEZONE, default_status=DefaultScheduleStatus.RUNNING,
    description="Confirm or fail handed-over invoices from Turnkey's answers; resend what is due.",
)

archive_invoices_schedule = ScheduleDefinition(
    name="archive_invoices_monthly", job=archive_invoices, cron_schedule="30 4 1 * *",
    execution_timezone=TIMEZONE, default_status=DefaultScheduleStatus.RUNNING,
    description="Months older than the hot year leave the invoice tables for the archive folder.",
)

INVOICE_SCHEDULES = [invoice_batch_daily, turnkey_results_schedule, archive_invoices_schedule]
