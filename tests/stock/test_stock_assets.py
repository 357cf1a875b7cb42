"""The Dagster side of stock: reconciliation, the stock overview, and the stock-events sensor."""

from __future__ import annotations

from datetime import timedelta

import redis
from dagster import DagsterInstance, build_sensor_context, materialize
from sqlalchemy import select, update

from commerce_core.db.cursors import utcnow
from commerce_core.db.engine import get_engine
from commerce_core.db.schema import products, stock_discrepancies, stock_levels, stock_reservations
from commerce_core.stock import ledger
from commerce_core.stock.redis_keys import available_key
from hub_assets.stock import stock_levels_overview, stock_reconciliation
from resources import CatalogDatabase, NotifierResource, StockRedisResource
from definitions import defs
from sensors.stock_events import stock_events_sensor
from tests.catalog.helpers import run_catalog
from tests.regions.helpers import sync_metadata, sync_region
from tests.stock.helpers import REDIS_URL, unique


def _stock(database_url: str, levels: dict[str, int | None]) -> None:
    with get_engine(database_url).begin() as conn:
        for sku, quantity in levels.items():
            ledger.set_stock(conn, sku, quantity, utcnow(), source="test")


def _reconcile(database_url: str, notify_url: str | None = None):
    return materialize(
        [stock_reconciliation, stock_levels_overview],
        resources={"catalog_db": CatalogDatabase(database_url=database_url),
                   "stock_redis": StockRedisResource(redis_url=REDIS_URL),
                   "notifier": NotifierResource(webhook_url=notify_url)},
        instance=DagsterInstance.ephemeral(),
    )


def _metadata(result, name: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path == [name]]
    return {key: value.value for key, value in event.materialization.metadata.items()}


def test_reconciliation_repairs_redis_records_and_alerts(database_url, alert_sink):
    drifted, lost, sold_out = unique("DRIFT"), unique("LOST"), unique("SOLD")
    _stock(database_url, {drifted: 10, lost: 4, sold_out: 1})
    with get_engine(database_url).begin() as conn:
        [answer] = ledger.reserve(conn, [ledger.ReserveRequest(f"{sold_out}-o", sold_out, "u", 1)], utcnow(),
                                  timedelta(minutes=5), rate_limit=False)
        assert answer.status_code == 201
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    client.set(available_key(drifted), 7)  # e.g. a crashed process took 3 that never reached the ledger
    client.delete(available_key(lost))
    try:
        result = _reconcile(database_url, alert_sink.url)
        meta = _metadata(result, "stock_reconciliation")
        assert meta["redis_repaired"] == 1 and meta["ledger_mismatches"] == 0
        assert int(client.get(available_key(drifted))) == 10
        assert int(client.get(available_key(lost))) == 4
        with get_engine(database_url).connect() as conn:
            recorded = conn.execute(select(stock_discrepancies.c.sku, stock_discrepancies.c.kind)).all()
        assert recorded == [(drifted, "redis")]
        assert len(alert_sink.received) == 1 and "1 difference" in alert_sink.received[0]["title"]
        overview = _metadata(result, "stock_levels_overview")
        assert overview["sold_out"] >= 1 and sold_out in overview["low_stock_list"]

        again = _metadata(_reconcile(database_url, alert_sink.url), "stock_reconciliation")
        assert again["redis_repaired"] == 0 and len(alert_sink.received) == 1  # nothing new, nothing sent
    finally:
        client.delete(*(available_key(sku) for sku in (drifted, lost, sold_out)))


def test_reconciliation_reports_a_projection_that_left_the_ledger(database_url):
    sku = unique("TAMPER")
    _stock(database_url, {sku: 5})
    with get_engine(database_url).begin() as conn:
        conn.execute(update(stock_levels).where(stock_levels.c.sku == sku).values(on_hand=50))
    meta = _metadata(_reconcile(database_url), "stock_reconciliation")
    assert meta["ledger_mismatches"] == 1


def test_reconciliation_releases_expired_holds(database_url):
    sku = unique("HOLD")
    _stock(database_url, {sku: 2})
    with get_engine(database_url).begin() as conn:
        ledger.reserve(conn, [ledger.ReserveRequest(f"{sku}-o", sku, "u", 2)], utcnow() - timedelta(hours=1),
                       timedelta(minutes=15), rate_limit=False)
    meta = _metadata(_reconcile(database_url), "stock_reconciliation")
    assert meta["expired_holds_released"] == 1
    with get_engine(database_url).connect() as conn:
        assert conn.execute(select(stock_reservations.c.status).where(
            stock_reservations.c.order_id == f"{sku}-o")).scalar() == "expired"
        assert ledger.available(ledger.get_level(conn, sku)) == 2


def test_stock_events_become_one_targeted_refresh_per_region(database_url, serp_simulator, region_sites,
                                                             monkeypatch):
    monkeypatch.setattr("sensors.stock_events.COMMIT_LAG", timedelta(0))
    served, _ = serp_simulator(products=30)
    run_catalog(database_url, served.url, mode="full")
    sites = region_sites()
    sync_region(database_url, sites, "TW")
    with get_engine(database_url).connect() as conn:
        published = conn.execute(select(products.c.external_product_id, products.c.id).where(
            products.c.is_active, products.c.status == "Published").order_by(products.c.external_product_id)).all()
    (sku_a, id_a), (sku_b, _) = published[0], published[1]
    _stock(database_url, {sku_a: 3, sku_b: 8, unique("NOT-IN-CATALOG"): 1})

    resources = {"catalog_db": CatalogDatabase(database_url=database_url)}
    repository = defs.get_repository_def()
    with build_sensor_context(cursor=None, resources=resources, repository_def=repository) as context:
        tick = stock_events_sensor.evaluate_tick(context)
    assert sorted(r.partition_key for r in tick.run_requests) == ["JP", "TW", "US"]
    config = tick.run_requests[0].run_config["ops"]["regional_snapshots"]["config"]
    assert config["product_ids"] == sorted([sku_a, sku_b])
    with build_sensor_context(cursor=None, resources=resources, repository_def=repository) as context:  # retried
        assert [r.run_key for r in stock_events_sensor.evaluate_tick(context).run_requests] == \
            [r.run_key for r in tick.run_requests]
    with build_sensor_context(cursor=tick.cursor, resources=resources, repository_def=repository) as context:
        assert stock_events_sensor.evaluate_tick(context).run_requests == []

    tw_config = next(r for r in tick.run_requests if r.partition_key == "TW").run_config
    refreshed = sync_metadata(sync_region(database_url, sites, "TW",
                                          product_ids=tw_config["ops"]["regional_snapshots"]["config"]["product_ids"]))
    assert (refreshed["considered"], refreshed["updated"]) == (2, 2)
    assert sites.store("TW").get(str(id_a))["availableSeats"] == 3
    assert sync_metadata(sync_region(database_url, sites, "TW"))["considered"] == 0  # the cursor stayed
