"""What assets read off their run: how it was triggered, the webhook events it handles, and throttled
progress lines for the run log."""

from __future__ import annotations

import time

from dagster import AssetExecutionContext, OpExecutionContext

from commerce_core.webhooks import inbox

# Dagster tags a run a sensor requested with the request's run key under this name.
RUN_KEY_TAG = "dagster/run_key"


def run_trigger(context: AssetExecutionContext | OpExecutionContext, sensor_trigger: str = "webhook") -> str:
    """schedule, the sensor's trigger name (sensors here react to webhooks), or manual."""
    tags = context.run.tags
    if "dagster/schedule_name" in tags:
        return "schedule"
    if "dagster/sensor_name" in tags:
        return sensor_trigger
    return "manual"


def record_webhook_run(context: AssetExecutionContext | OpExecutionContext, engine) -> int:
    """A run started for webhook events writes its own run id on them (the sensor only knew the run key);
    done first, so the events name the run even if it fails. Returns how many events the run handles."""
    run_key = context.run.tags.get(RUN_KEY_TAG)
    if context.run.tags.get("hub/trigger") != "webhook" or not run_key:
        return 0
    with engine.begin() as conn:
        handled = inbox.record_run(conn, run_key, context.run.run_id)
    context.log.info(f"handling {handled} webhook events (run key {run_key})")
    return handled


def progress_logger(context: AssetExecutionContext | OpExecutionContext, stage: str, every_seconds: float = 2.0):
    """A callback that logs `stage: <result>` at most every `every_seconds`."""
    last = [0.0]

    def report(result) -> None:
        now = time.monotonic()
        if now - last[0] >= every_seconds:
            last[0] = now
            context.log.info(f"{stage}: {result}")

    return report
