"""supplier_events_sensor: a burst of webhook events becomes one run per source and tick."""

from __future__ import annotations

import json
from datetime import timedelta

import orjson
from dagster import build_sensor_context
from sqlalchemy import select

from commerce_core.db.cursors import utcnow
from commerce_core.db.engine import get_engine
from commerce_core.db.schema import webhook_events
from commerce_core.webhooks import inbox
from definitions import defs
from resources import CatalogDatabase
from sensors.supplier_events import supplier_events_sensor


def _receive(database_url: str, source: str, events: list[tuple[str, str, str]]) -> None:
    with get_engine(database_url).begin() as conn:
        inbox.store_many(conn, [{"source": source, "event_id": event_id, "event_type": event_type,
                                 "resource_id": resource_id, "payload": orjson.dumps({"id": resource_id}).decode()}
                                for event_id, event_type, resource_id in events], utcnow() - timedelta(seconds=5))


def _tick(database_url: str, cursor: str | None):
    with build_sensor_context(cursor=cursor, resources={"catalog_db": CatalogDatabase(database_url=database_url)},
                              repository_def=defs.get_repository_def()) as context:
        return supplier_events_sensor.evaluate_tick(context)


def test_a_burst_becomes_one_run_per_source_with_stable_run_keys(database_url):
    _receive(database_url, "serp", [(f"evt-{n}", "product.updated", f"SERP-{n % 40:07d}") for n in range(1000)])
    _receive(database_url, "shopline", [("w1", "products/update", "1"), ("w2", "orders/paid", "9"),
                                        ("w3", "inventory_levels/update", "1")])
    tick = _tick(database_url, None)
    jobs = sorted(r.job_name for r in tick.run_requests)
    assert jobs == ["orders_import", "serp_manual_import", "shopline_import"]
    serp_run = next(r for r in tick.run_requests if r.job_name == "serp_manual_import")
    assert len(serp_run.run_config["ops"]["serp_products"]["config"]["product_ids"]) == 40  # folded per product
    assert [r.run_key for r in _tick(database_url, None).run_requests] == [r.run_key for r in tick.run_requests]
    with get_engine(database_url).connect() as conn:
        keys = set(conn.execute(select(webhook_events.c.run_key)).scalars())
    shopline_keys = {r.run_key for r in tick.run_requests if r.job_name != "serp_manual_import"}
    assert keys == {serp_run.run_key.rsplit(":", 1)[0], *shopline_keys}  # every event keeps its run key

    assert _tick(database_url, tick.cursor).run_requests == []  # nothing new after the cursor
    _receive(database_url, "serp", [("evt-new", "product.deleted", "SERP-0000099")])
    later = _tick(database_url, tick.cursor)
    [request] = later.run_requests
    assert request.run_config["ops"]["serp_products"]["config"]["product_ids"] == ["SERP-0000099"]
    assert json.loads(later.cursor)["serp"] > json.loads(tick.cursor)["serp"]


def test_handled_events_are_pruned_after_the_keep_period(database_url):
    from dagster import DagsterInstance

    from jobs.webhook_jobs import prune_webhook_events

    _receive(database_url, "serp", [("old-handled", "product.updated", "SERP-1"), ("old-open", "product.updated", "SERP-2")])
    with get_engine(database_url).begin() as conn:
        conn.execute(webhook_events.update().values(received_at=utcnow() - timedelta(days=9)))
        conn.execute(webhook_events.update().where(webhook_events.c.event_id == "old-handled").values(run_key="k"))
    result = prune_webhook_events.execute_in_process(
        resources={"catalog_db": CatalogDatabase(database_url=database_url)}, instance=DagsterInstance.ephemeral())
    assert result.success
    with get_engine(database_url).connect() as conn:
        assert list(conn.execute(select(webhook_events.c.event_id)).scalars()) == ["old-open"]
