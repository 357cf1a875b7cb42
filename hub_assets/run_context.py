"""What assets read off their run: how it was triggered, and throttled progress lines for the run log."""

from __future__ import annotations

import time

from dagster import AssetExecutionContext, OpExecutionContext


def run_trigger(context: AssetExecutionContext | OpExecutionContext, sensor_trigger: str = "webhook") -> str:
    """schedule, the sensor's trigger name (sensors here react to webhooks), or manual."""
    tags = context.run.tags
    if "dagster/schedule_name" in tags:
        return "schedule"
    if "dagster/sensor_name" in tags:
        return sensor_trigger
    return "manual"


def progress_logger(context: AssetExecutionContext | OpExecutionContext, stage: str, every_seconds: float = 2.0):
    """A callback that logs `stage: <result>` at most every `every_seconds`."""
    last = [0.0]

    def report(result) -> None:
        now = time.monotonic()
        if now - last[0] >= every_seconds:
            last[0] = now
            context.log.info(f"{stage}: {result}")

    return report
