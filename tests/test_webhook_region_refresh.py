"""After a webhook-driven re-import, exactly those products are refreshed in every region."""

from __future__ import annotations

from dagster import DagsterEventType, DagsterInstance, Field, build_run_status_sensor_context, job, op

from resources import CatalogDatabase
from sensors.webhook_region_refresh import refresh_regions_after_webhook_import


@op(name="serp_products", config_schema={"mode": str, "product_ids": [str], "requested_by": Field(str, is_required=False)})
def serp_products_stand_in(context):
    return context.op_config["product_ids"]


@job(name="serp_manual_import")
def manual_import():
    serp_products_stand_in()


def _evaluate(tags: dict, tmp_path):
    instance = DagsterInstance.ephemeral()
    result = manual_import.execute_in_process(
        run_config={"ops": {"serp_products": {"config": {"mode": "ids", "product_ids": ["SERP-2", "SERP-1"]}}}},
        tags=tags, instance=instance)
    success = next(e for e in result.all_events if e.event_type == DagsterEventType.RUN_SUCCESS)
    with build_run_status_sensor_context(
            sensor_name=refresh_regions_after_webhook_import.name, dagster_event=success, dagster_instance=instance,
            dagster_run=result.dagster_run,
            resources={"catalog_db": CatalogDatabase(database_url=f"sqlite:///{tmp_path / 'catalog.sqlite3'}")}) \
            as context:
        return result, refresh_regions_after_webhook_import(context)


def test_a_webhook_import_refreshes_those_products_in_every_region(tmp_path):
    result, requests = _evaluate({"hub/trigger": "webhook"}, tmp_path)
    assert sorted(r.partition_key for r in requests) == ["JP", "TW", "US"]
    assert all(r.run_config["ops"]["regional_snapshots"]["config"]["product_ids"] == ["SERP-1", "SERP-2"]
               for r in requests)
    assert {r.run_key for r in requests} == {f"webhook-refresh:{result.run_id}:{code}" for code in ("TW", "US", "JP")}


def test_other_imports_are_left_to_the_region_schedules(tmp_path):
    _, answer = _evaluate({}, tmp_path)
    assert "not started by a webhook" in str(answer)
