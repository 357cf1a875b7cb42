"""Region schedules from the regions file (Asia/Taipei): TW every 30 minutes, US 03:00, JP 04:00; dead-letter retry every 15 minutes."""

from dagster import DefaultScheduleStatus, RunRequest, ScheduleDefinition, ScheduleEvaluationContext, schedule

from commerce_core.regions.config import RegionConfig, load_regions
from jobs.region_jobs import dead_letter_retry, region_sync_job
from schedules.catalog_schedules import TIMEZONE


def _region_schedule(region: RegionConfig):
    @schedule(
        name=f"region_sync_{region.code.lower()}",
        job=region_sync_job,
        cron_schedule=region.schedule,
        execution_timezone=TIMEZONE,
        description=f"Deliver catalog changes to {region.name} ({region.code}) on `{region.schedule}`.",
        default_status=DefaultScheduleStatus.RUNNING,
    )
    def region_schedule(context: ScheduleEvaluationContext) -> RunRequest:
        return RunRequest(
            run_key=f"{region.code}:{context.scheduled_execution_time.isoformat()}",
            partition_key=region.code,
            tags={"hub/region": region.code},
        )

    return region_schedule


dead_letter_retry_schedule = ScheduleDefinition(
    name="dead_letter_retry_every_15_minutes",
    job=dead_letter_retry,
    cron_schedule="*/15 * * * *",
    execution_timezone=TIMEZONE,
    description="Retry dead-lettered region deliveries: oldest 100, at most 5 tries each.",
    default_status=DefaultScheduleStatus.RUNNING,
)

REGION_SCHEDULES = [*(_region_schedule(region) for region in load_regions().enabled()), dead_letter_retry_schedule]
