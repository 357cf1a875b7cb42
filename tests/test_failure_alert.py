"""A failed import run alerts once through the notifier."""

from __future__ import annotations

from dagster import DagsterEventType, DagsterInstance, build_run_status_sensor_context, job, op

from resources import NotifierResource
from sensors.run_failures import import_failure_alert


@op
def fetch_supplier():
    raise RuntimeError("supplier unreachable")


@job(name="serp_manual_import")
def failing_import():
    fetch_supplier()


def test_a_failed_import_run_alerts(alert_sink):
    instance = DagsterInstance.ephemeral()
    result = failing_import.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == DagsterEventType.RUN_FAILURE)
    context = build_run_status_sensor_context(
        sensor_name=import_failure_alert.name, dagster_event=failure, dagster_instance=instance,
        dagster_run=result.dagster_run, resources={"notifier": NotifierResource(webhook_url=alert_sink.url)},
    ).for_run_failure()
    import_failure_alert(context)
    [alert] = alert_sink.received
    assert alert["title"] == "run of serp_manual_import failed" and alert["severity"] == "critical"
    assert alert["details"]["run_id"] == result.run_id
