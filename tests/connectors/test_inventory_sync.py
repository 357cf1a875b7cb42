"""Next Engine stock pushes reach Shopline's inventory: the stock service logs them, the sensor asks for a run,
shopline_inventory_sync sets them through the Shopline simulator (real HTTP), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import quote_from_bytes

import httpx
import orjson
import pytest
from dagster import DagsterInstance, SkipReason, build_sensor_context, materialize
from lxml import etree
from sqlalchemy import insert, select, update

from commerce_core.db.engine import get_engine
from commerce_core.catalog.supplier_staging import tombstone
from commerce_core.connectors.inventory_sync import VARIANTS_CURSOR, refresh_variants
from commerce_core.db.cursors import get_cursor
from commerce_core.db.schema import inventory_sync_log, shopline_variants, supplier_records
from commerce_core.settings import LOCAL_NEXTENGINE_STORE
from hub_assets.inventory_sync import shopline_inventory_sync
from hub_assets.shopline_products import shopline_products
from resources import CatalogDatabase, NotifierResource, ShoplineResource
from sensors.inventory_sync import shopline_inventory_sync_sensor
from simulators.asgi_server import ServedApp
from simulators.shopline import API_VERSION, ShoplineFaults, ShoplineStore, create_app
from stock_service.settings import LOCAL_NEXTENGINE_KEY
from tests.catalog.helpers import materialization_metadata
from tests.stock.helpers import served, service_settings

TOKEN = "test-token"
JST = timezone(timedelta(hours=9))


@pytest.fixture
def shopline():
    store = ShoplineStore(products=12, orders=0, seed=8)
    faults = ShoplineFaults()
    app = ServedApp(create_app(store, access_token=TOKEN, faults=faults)).start()
    yield app, store, faults
    app.stop()


def _resources(database_url: str, url: str, alert_url: str | None = None, max_attempts: int = 2) -> dict:
    return {"catalog_db": CatalogDatabase(database_url=database_url),
            "shopline": ShoplineResource(base_url=url, access_token=TOKEN, page_size=50, max_attempts=max_attempts,
                                         backoff_seconds=0.01),
            "notifier": NotifierResource(webhook_url=alert_url, backoff_seconds=0.01)}


def _sync(resources: dict, **config):
    return materialize([shopline_inventory_sync], resources=resources, instance=DagsterInstance.ephemeral(),
                       run_config={"ops": {"shopline_inventory_sync": {"config": config}}})


def _push(client: httpx.Client, code: str, stock: str, ts: datetime) -> int:
    stamp = ts.astimezone(JST).strftime("%Y%m%d%H%M%S")
    values = {"StoreAccount": LOCAL_NEXTENGINE_STORE.encode(), "Code": code.encode(), "Stock": stock.encode(),
              "ts": stamp.encode()}
    signed = b"&".join(name.encode() + b"=" + value for name, value in values.items()) + LOCAL_NEXTENGINE_KEY.encode()
    query = "&".join(f"{name}={quote_from_bytes(value)}" for name, value in values.items())
    answer = client.get(f"/webhooks/nextengine/stock?{query}&.sig={hashlib.md5(signed).hexdigest()}")
    return int(etree.fromstring(answer.content).findtext(".//Processed"))


def _log(database_url: str) -> dict[int, dict]:
    with get_engine(database_url).connect() as conn:
        return {row["id"]: dict(row) for row in conn.execute(select(inventory_sync_log)).mappings()}


def _sensor(database_url: str, cursor: str | None = None):
    with build_sensor_context(cursor=cursor, resources={"catalog_db": CatalogDatabase(database_url=database_url)}) \
            as context:
        return shopline_inventory_sync_sensor(context)


def test_pushes_reach_shopline_through_the_sensor_and_the_asset(database_url, shopline):
    app, store, _ = shopline
    resources = _resources(database_url, app.url)
    materialize([shopline_products], resources=resources, instance=DagsterInstance.ephemeral())
    now = datetime.now(timezone.utc)
    sku, other, unlimited = "SL-0000001-1", "SL-0000002-1", "SL-0000003-1"
    with served(service_settings(database_url, redis=False)) as client:
        assert _push(client, sku, "7", now - timedelta(minutes=3)) == 0
        assert _push(client, sku, "4", now - timedelta(minutes=2)) == 0  # newer: the one Shopline must get
        assert _push(client, other, "11", now - timedelta(minutes=2)) == 0
        assert _push(client, unlimited, "", now - timedelta(minutes=2)) == 0
        assert _push(client, "NOT-IN-SHOPLINE", "3", now - timedelta(minutes=2)) == 0
    # The push answers never called Shopline: sending is the asset's job.
    stats = httpx.get(f"{app.url}/_sim/stats").json()
    assert stats["calls"].get("inventory_set", 0) == 0

    request = _sensor(database_url)
    [run] = request.run_requests
    assert run.run_key == request.cursor and run.run_key.endswith(":5:0")  # five due pushes, no retries spent
    assert isinstance(_sensor(database_url, cursor=request.cursor), SkipReason)  # same backlog, same run: nothing asked twice

    metadata = materialization_metadata(_sync(resources, backoff_seconds=3600), "shopline_inventory_sync")
    assert (metadata["succeeded"], metadata["superseded"], metadata["skipped_unlimited"],
            metadata["skipped_not_in_shopline"], metadata["retrying"], metadata["failed"]) == (2, 1, 1, 1, 0, 0)

    inventory = httpx.get(f"{app.url}/_sim/inventory").json()
    assert {s: level["available"] for s, level in inventory["levels"].items()} == {sku: 4, other: 11}
    assert [call["available"] for call in inventory["sets"]] == [4, 11]  # the superseded 7 was never sent
    # GraphQL shows the level Shopline now holds.
    node = store.product_node(0)
    assert node["variants"]["edges"][0]["node"]["inventoryQuantity"] == 4

    rows = sorted(_log(database_url).values(), key=lambda r: r["id"])
    by_status = {(r["sku"], r["stock"]): r for r in rows}
    first, newest = by_status[(sku, 7)], by_status[(sku, 4)]
    assert first["sync_status"] == "superseded" and first["error_message"] == f"superseded by push {newest['id']}"
    assert not first["synced_to_shopline"]
    assert newest["sync_status"] == "success" and newest["synced_to_shopline"] and newest["processed_at"] is not None
    assert by_status[(unlimited, None)]["sync_status"] == "skipped"
    # A SKU Shopline does not sell: nothing to send there, so skipped with the reason (no retries, no alert).
    unknown = by_status[("NOT-IN-SHOPLINE", 3)]
    assert (unknown["sync_status"], unknown["retry_count"], unknown["next_attempt_at"]) == ("skipped", 0, None)
    assert "not sold in Shopline" in unknown["error_message"] and unknown["processed_at"] is not None
    # Every push has an outcome: the sensor has nothing due.
    assert isinstance(_sensor(database_url, cursor=request.cursor), SkipReason)

    # A second run has nothing to send; a new push for the SKU is sent alone.
    assert materialization_metadata(_sync(resources, backoff_seconds=3600), "shopline_inventory_sync")["due"] == 0
    with served(service_settings(database_url, redis=False)) as client:
        assert _push(client, sku, "0", now - timedelta(minutes=1)) == 0
    assert materialization_metadata(_sync(resources), "shopline_inventory_sync")["succeeded"] == 1
    assert httpx.get(f"{app.url}/_sim/inventory").json()["levels"][sku]["available"] == 0

    # The SKU map follows the catalog: a product deleted at Shopline takes its variants along; the
    # inventory item ids already read are kept for the others.
    with get_engine(database_url).connect() as conn:
        items = dict(conn.execute(select(shopline_variants.c.sku, shopline_variants.c.inventory_item_id)).all())
    assert items[sku] and items[other] and items[unlimited] is None  # read once, for the SKUs sent
    tombstone(get_engine(database_url), "SHOPLINE", [store.product_id(1)], uuid.uuid4())
    refresh_variants(get_engine(database_url), datetime.now(timezone.utc))
    with get_engine(database_url).connect() as conn:
        after = dict(conn.execute(select(shopline_variants.c.sku, shopline_variants.c.inventory_item_id)).all())
    assert other not in after and after[sku] == items[sku] and len(after) == len(items) - len(
        store.product(1)["variants"])

    # Back into the hub: the levels Shopline now holds come with the next incremental product read.
    reread = materialize([shopline_products], resources=resources, instance=DagsterInstance.ephemeral())
    staged = materialization_metadata(reread, "shopline_products")
    assert (staged["mode"], staged["changed"]) == ("incremental", 2)  # products 1 and 2; the unlimited one untouched


def test_failures_are_retried_with_backoff_then_alerted_and_an_open_circuit_defers(database_url, shopline,
                                                                                  alert_sink):
    app, store, faults = shopline
    resources = _resources(database_url, app.url, alert_sink.url, max_attempts=2)
    materialize([shopline_products], resources=resources, instance=DagsterInstance.ephemeral())
    now = datetime.now(timezone.utc)
    skus = [f"SL-{i:07d}-1" for i in range(1, 5)]
    with served(service_settings(database_url, redis=False)) as client:
        for n, sku in enumerate(skus):
            assert _push(client, sku, str(n + 1), now - timedelta(minutes=1)) == 0

    faults.error_rate = 1.0  # every Shopline call answers 5xx
    metadata = materialization_metadata(_sync(resources, max_attempts=2, backoff_seconds=0), "shopline_inventory_sync")
    # Two SKUs spend two calls each; the fifth failure opens the circuit: the rest wait, no attempt counted.
    assert (metadata["retrying"], metadata["deferred_circuit_open"], metadata["succeeded"]) == (2, 2, 0)
    rows = {r["sku"]: r for r in _log(database_url).values()}
    assert [rows[s]["retry_count"] for s in skus] == [1, 1, 0, 0]
    assert rows[skus[0]]["sync_status"] == "failed" and "answered 5" in rows[skus[0]]["error_message"]
    assert [rows[s]["sync_status"] for s in skus[2:]] == ["pending", "pending"]

    # The second failure is the last attempt: the push stays failed, nothing is planned, the operator is told.
    with get_engine(database_url).begin() as conn:  # only the first SKU is tried in this run
        conn.execute(update(inventory_sync_log).where(inventory_sync_log.c.sku.in_(skus[1:]))
                     .values(next_attempt_at=now + timedelta(hours=1), sync_status="failed"))
    metadata = materialization_metadata(_sync(resources, max_attempts=2, backoff_seconds=0), "shopline_inventory_sync")
    assert metadata["failed"] == 1
    final = {r["sku"]: r for r in _log(database_url).values()}[skus[0]]
    assert (final["sync_status"], final["retry_count"], final["next_attempt_at"]) == ("failed", 2, None)
    [alert] = alert_sink.received
    assert "could not be set in Shopline" in alert["title"] and skus[0] in alert["message"]

    # Shopline recovers: the waiting pushes are sent once due, keeping the attempts they spent.
    faults.error_rate = 0.0
    with get_engine(database_url).begin() as conn:
        conn.execute(update(inventory_sync_log).where(inventory_sync_log.c.sku.in_(skus[1:]))
                     .values(next_attempt_at=now))
    metadata = materialization_metadata(_sync(resources, max_attempts=2, backoff_seconds=0), "shopline_inventory_sync")
    assert metadata["succeeded"] == 3
    rows = {r["sku"]: r for r in _log(database_url).values()}
    assert [rows[s]["sync_status"] for s in skus] == ["failed", "success", "success", "success"]
    levels = httpx.get(f"{app.url}/_sim/inventory").json()["levels"]
    assert {s: levels[s]["available"] for s in skus[1:]} == {skus[1]: 2, skus[2]: 3, skus[3]: 4}


def test_the_simulator_inventory_endpoint_follows_the_open_api_and_its_fault_flags(shopline):
    app, store, faults = shopline
    base = f"{app.url}/admin/openapi/{API_VERSION}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    [location] = httpx.get(f"{base}/locations/list.json", headers=auth).json()["locations"]
    variant = httpx.get(f"{base}/products/variants/{store.variant_id(2, 0)}.json", headers=auth).json()["variant"]
    assert variant["sku"] == "SL-0000003-1" and variant["inventory_item_id"]
    body = {"inventory_item_id": variant["inventory_item_id"], "location_id": location["id"], "available": 9}
    level = httpx.post(f"{base}/inventory_levels/set.json", json=body, headers=auth).json()["inventory_level"]
    assert (level["variant_id"], level["available"]) == (variant["id"], 9)
    assert store.product(2)["variants"][0]["inventory_quantity"] == 9
    assert httpx.post(f"{base}/inventory_levels/set.json", json={**body, "inventory_item_id": "1"},
                      headers=auth).status_code == 404
    assert httpx.post(f"{base}/inventory_levels/set.json", json=body).status_code == 401
    faults.rate_limit_rate = 1.0
    limited = httpx.post(f"{base}/inventory_levels/set.json", json=body, headers=auth)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    faults.rate_limit_rate, faults.error_rate = 0.0, 1.0
    assert httpx.post(f"{base}/inventory_levels/set.json", json=body, headers=auth).status_code >= 500


def test_no_shopline_catalog_yet_is_retried_not_skipped(database_url, shopline):
    app, _, _ = shopline
    now = datetime.now(timezone.utc)
    with served(service_settings(database_url, redis=False)) as client:
        assert _push(client, "SL-0000001-1", "5", now - timedelta(minutes=1)) == 0
    metadata = materialization_metadata(_sync(_resources(database_url, app.url), backoff_seconds=3600),
                                        "shopline_inventory_sync")
    assert (metadata["retrying"], metadata["skipped_not_in_shopline"]) == (1, 0)
    [row] = _log(database_url).values()
    assert row["sync_status"] == "failed" and "no Shopline catalog imported yet" in row["error_message"]


def _stage(engine, store: ShoplineStore, index: int, fetched_at: datetime) -> None:
    """A staged Shopline product record, written as a staging batch would (fetched_at stamped before)."""
    with engine.begin() as conn:
        conn.execute(insert(supplier_records).values(
            supplier_id="SHOPLINE", external_id=store.product_id(index),
            payload=orjson.dumps(store.product_node(index)).decode(), payload_hash=f"h{index}",
            source_updated_at=None, fetched_at=fetched_at, deleted_at=None, import_job_id=None))


def _skus(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(shopline_variants.c.sku)).scalars())


def test_a_batch_committed_after_a_refresh_is_picked_up_though_its_fetched_at_is_older(database_url):
    engine = get_engine(database_url)
    store = ShoplineStore(products=5, orders=0, seed=8)
    read_at = datetime.now(timezone.utc) - timedelta(hours=1)
    _stage(engine, store, 0, read_at)
    assert refresh_variants(engine, read_at + timedelta(minutes=5)) == 1
    assert "SL-0000001-1" in _skus(engine)
    # A batch read a minute before product 0's (and 3 minutes before the clock's lag) commits only now.
    _stage(engine, store, 1, read_at - timedelta(minutes=1))
    refresh_variants(engine, read_at + timedelta(minutes=6))
    assert {"SL-0000001-1", "SL-0000002-1"} <= _skus(engine)
    # The cursor is the newest fetched_at read, never the clock: a refresh far ahead moves nothing.
    refresh_variants(engine, read_at + timedelta(days=1))
    with engine.connect() as conn:
        assert get_cursor(conn, VARIANTS_CURSOR) == read_at.isoformat()
    # Records are re-read only within the overlap behind the newest one read.
    _stage(engine, store, 2, read_at + timedelta(minutes=30))
    assert refresh_variants(engine, read_at + timedelta(minutes=31)) == 3
    assert "SL-0000003-1" in _skus(engine)
    assert refresh_variants(engine, read_at + timedelta(minutes=32)) == 1
