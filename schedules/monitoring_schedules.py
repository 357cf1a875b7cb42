"""The day's price snapshot and alerts at 23:30 Asia/Taipei, after the day's last price sync."""

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, schedule

from jobs.monitoring_jobs import price_watch_job
from schedules.catalog_schedules import TIMEZONE


@schedule(job=price_watch_job, cron_schedule="30 23 * * *", execution_timezone=TIMEZONE,
          default_status=DefaultScheduleStatus.RUNNING,
          description="Snapshot the day's prices and seats and send the change alerts.")
def price_watch_daily(context: ScheduleEvaluationContext) -> RunRequest:
    day = context.scheduled_execution_time.date().isoformat()
    return RunRequest(partition_key=day, run_key=f"price-watch:{day}")


MONITORING_SCHEDULES = [price_watch_daily]
