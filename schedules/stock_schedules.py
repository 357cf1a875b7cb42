"""Stock reconciliation every 15 minutes, the inventory sync sweep every 10, and the webhook inbox's daily
pruning (Asia/Taipei)."""

from dagster import DefaultScheduleStatus, ScheduleDefinition

from jobs.stock_jobs import shopline_inventory_sync_job, stock_reconciliation_job
from jobs.webhook_jobs import prune_webhook_events
from schedules.catalog_schedules import TIMEZONE

stock_reconciliation_schedule = ScheduleDefinition(
    name="stock_reconciliation_every_15_minutes",
    job=stock_reconciliation_job,
    cron_schedule="*/15 * * * *",
    execution_timezone=TIMEZONE,
    description="Redis vs the stock ledger, expired holds, stock-level overview.",
    default_status=DefaultScheduleStatus.RUNNING,
)

prune_webhook_events_schedule = ScheduleDefinition(
    name="prune_webhook_events_daily",
    job=prune_webhook_events,
    cron_schedule="30 3 * * *",
    execution_timezone=TIMEZONE,
    description="Handled webhook events older than a week leave the inbox.",
    default_status=DefaultScheduleStatus.RUNNING,
)

# The sensor starts a sync as soon as pushes arrive; this sweep also covers a run that died before
# recording anything (the sensor does not ask twice for the same backlog).
shopline_inventory_sync_schedule = ScheduleDefinition(
    name="shopline_inventory_sync_every_10_minutes",
    job=shopline_inventory_sync_job,
    cron_schedule="*/10 * * * *",
    execution_timezone=TIMEZONE,
    description="Sweep: send whatever Next Engine stock pushes are still pending or due for a retry to Shopline.",
    default_status=DefaultScheduleStatus.RUNNING,
)

STOCK_SCHEDULES = [stock_reconciliation_schedule, prune_webhook_events_schedule, shopline_inventory_sync_schedule]
