"""supplier_events_sensor: a burst of webhook events becomes one run per source and tick."""

from __future__ import annotations

import json
from datetime import timedelta

import orjson
from dagster import AssetKey, build_sensor_context
from sqlalchemy import select

from commerce_core.db.cursors import utcnow
from commerce_core.db.engine import get_engine
from commerce_core.db.schema import webhook_events
from commerce_core.webhooks import inbox
from definitions import defs
from resources import CatalogDatabase
from sensors import supplier_events
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
                                        ("w3", "inventory_levels/update", "71"), ("w4", "products/delete", "2"),
                                        ("w5", "products/update", "1"), ("w6", "orders/create", "10")])
    tick = _tick(database_url, None)
    runs = {r.job_name: r for r in tick.run_requests}
    assert sorted(runs) == ["orders_import", "serp_manual_import", "shopline_import"]
    assert len(runs["serp_manual_import"].run_config["ops"]["serp_products"]["config"]["product_ids"]) == 40
    # Shopline: one targeted run of exactly those products (folded) and variants, not a full listing.
    config = runs["shopline_import"].run_config["ops"]["shopline_products"]["config"]
    assert (config["product_ids"], config["variant_ids"]) == (["1", "2"], ["71"])
    assert runs["orders_import"].asset_selection == [AssetKey("shopline_orders")]
    assert [r.run_key for r in _tick(database_url, None).run_requests] == [r.run_key for r in tick.run_requests]
    with get_engine(database_url).connect() as conn:
        keys = dict(conn.execute(select(webhook_events.c.event_id, webhook_events.c.run_key)).all())
    assert {keys[f"evt-{n}"] for n in range(1000)} == {runs["serp_manual_import"].run_key}
    assert {keys[f"w{n}"] for n in (1, 3, 4, 5)} == {runs["shopline_import"].run_key}
    assert {keys["w2"], keys["w6"]} == {runs["orders_import"].run_key}  # every event keeps its run's key

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


def test_a_burst_past_the_run_size_is_split_and_each_event_keeps_its_own_run_key(database_url, monkeypatch):
    monkeypatch.setattr(supplier_events, "MAX_PRODUCTS_PER_RUN", 3)
    _receive(database_url, "shopline", [(f"w{n}", "products/update", str(100 + n % 7)) for n in range(20)])
    requests = _tick(database_url, None).run_requests
    chunks = [r.run_config["ops"]["shopline_products"]["config"]["product_ids"] for r in requests]
    assert chunks == [["100", "101", "102"], ["103", "104", "105"], ["106"]]
    with get_engine(database_url).connect() as conn:
        keys = dict(conn.execute(select(webhook_events.c.resource_id, webhook_events.c.run_key)).all())
    assert {product: keys[product] for product in chunks[1]} == {product: requests[1].run_key for product in chunks[1]}
    assert len({r.run_key for r in requests}) == 3
