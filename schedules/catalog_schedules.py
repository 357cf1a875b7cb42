"""The GlobalHub design's SerpSyncScheduler (docs/background.md): full 02:00 daily, incremental hourly, price
and availability every 15 minutes."""

from dagster import DefaultScheduleStatus, ScheduleDefinition

from jobs.catalog_jobs import (
    nextengine_full_import_job,
    nextengine_import_job,
    orders_import_job,
    serp_full_import_job,
    serp_incremental_import_job,
    shopline_full_import_job,
    shopline_import_job,
)

TIMEZONE = "Asia/Taipei"

serp_full_sync_schedule = ScheduleDefinition(
    name="serp_full_sync_daily",
    job=serp_full_import_job,
    cron_schedule="0 2 * * *",
    execution_timezone=TIMEZONE,
    description="Full SERP sync at 02:00 Taipei: complete data, archives deleted products.",
    default_status=DefaultScheduleStatus.RUNNING,
)

serp_incremental_sync_schedule = ScheduleDefinition(
    name="serp_incremental_sync_hourly",
    job=serp_incremental_import_job,
    cron_schedule="0 * * * *",
    execution_timezone=TIMEZONE,
    description="Hourly incremental SERP sync: products updated since the last successful read.",
    default_status=DefaultScheduleStatus.RUNNING,
)

# The supplier API has no price-only listing, so price and seat changes arrive through
# updatedSince; enrichment is keyed by text, so these frequent runs cost no re-enrichment.
serp_price_availability_schedule = ScheduleDefinition(
    name="serp_price_availability_every_15_minutes",
    job=serp_incremental_import_job,
    cron_schedule="*/15 * * * *",
    execution_timezone=TIMEZONE,
    description="Price and availability freshness: incremental SERP sync every 15 minutes.",
    default_status=DefaultScheduleStatus.RUNNING,
    tags={"hub/sync": "price-availability"},
)


nextengine_import_schedule = ScheduleDefinition(
    name="nextengine_import_hourly",
    job=nextengine_import_job,
    cron_schedule="30 * * * *",
    execution_timezone=TIMEZONE,
    description="Next Engine goods modified since the last read, every hour at :30.",
    default_status=DefaultScheduleStatus.RUNNING,
)

# Incremental reads cannot see deletions: once a day the whole listing archives what vanished.
nextengine_full_import_schedule = ScheduleDefinition(
    name="nextengine_full_import_daily",
    job=nextengine_full_import_job,
    cron_schedule="30 2 * * *",
    execution_timezone=TIMEZONE,
    description="The whole Next Engine goods listing at 02:30 Taipei: archives goods no longer listed.",
    default_status=DefaultScheduleStatus.RUNNING,
)

shopline_import_schedule = ScheduleDefinition(
    name="shopline_import_hourly",
    job=shopline_import_job,
    cron_schedule="45 * * * *",
    execution_timezone=TIMEZONE,
    description="Shopline products updated since the last read, every hour at :45 (webhooks bring single "
    "changes sooner, issue 6).",
    default_status=DefaultScheduleStatus.RUNNING,
)

shopline_full_import_schedule = ScheduleDefinition(
    name="shopline_full_import_daily",
    job=shopline_full_import_job,
    cron_schedule="45 2 * * *",
    execution_timezone=TIMEZONE,
    description="The whole Shopline product listing at 02:45 Taipei: archives products no longer listed.",
    default_status=DefaultScheduleStatus.RUNNING,
)

orders_import_schedule = ScheduleDefinition(
    name="orders_import_every_15_minutes",
    job=orders_import_job,
    cron_schedule="*/15 * * * *",
    execution_timezone=TIMEZONE,
    description="Shopline and Next Engine orders every 15 minutes (order webhooks bring them sooner, issue 6).",
    default_status=DefaultScheduleStatus.RUNNING,
)

CATALOG_SCHEDULES = [serp_full_sync_schedule, serp_incremental_sync_schedule, serp_price_availability_schedule,
                     nextengine_import_schedule, nextengine_full_import_schedule, shopline_import_schedule,
                     shopline_full_import_schedule, orders_import_schedule]
