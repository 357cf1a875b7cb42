"""Stock reconciliation every 15 minutes (Asia/Taipei)."""

from dagster import DefaultScheduleStatus, ScheduleDefinition

from jobs.stock_jobs import stock_reconciliation_job
from schedules.catalog_schedules import TIMEZONE

stock_reconciliation_schedule = ScheduleDefinition(
    name="stock_reconciliation_every_15_minutes",
    job=stock_reconciliation_job,
    cron_schedule="*/15 * * * *",
    execution_timezone=TIMEZONE,
    description="Redis vs the stock ledger, expired holds, stock-level overview.",
    default_status=DefaultScheduleStatus.RUNNING,
)

STOCK_SCHEDULES = [stock_reconciliation_schedule]
