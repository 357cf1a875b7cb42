"""End to end: merchant changes in the Shopline simulator become signed webhooks to the running service,
one sensor tick asks for one targeted run, and that run re-imports exactly those products (a deleted one
is archived); order events run the Shopline orders (a cancelled one ends cancelled); a redelivered
webhook stores nothing new; every event ends up naming the run that handled it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from dagster import (
    DagsterEventType,
    DagsterInstance,
    RunRequest,
    build_run_status_sensor_context,
    build_sensor_context,
    materialize,
)
from sqlalchemy import func, select, update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from commerce_core.db.cursors import utcnow
from commerce_core.db.engine import get_engine
from commerce_core.db.schema import orders, products, webhook_events
from definitions import defs
from hub_assets.catalog import CATALOG_ASSETS, CATALOG_CHECKS, SHOPLINE_ASSETS
from hub_assets.orders import shopline_orders
from resources import CatalogDatabase, EnricherResource, ShoplineResource
from sensors.supplier_events import supplier_events_sensor
from sensors.webhook_region_refresh import refresh_regions_after_webhook_import
from simulators.asgi_server import ServedApp
from simulators.shopline import ShoplineStore, create_app
from simulators.shopline_webhooks import WebhookTarget
from stock_service.settings import LOCAL_SHOPLINE_APP_SECRET
from tests.catalog.helpers import materialization_metadata
from tests.stock.helpers import served, service_settings

TOKEN = "e2e-token"
SIM_TIMEOUT = 1.0  # the simulator's patience (the platform's 15 s, shortened for the test)


class LateFirstAnswer:
    """In front of the service: the first webhook reaches it (and is stored) but is answered only after the
    simulator stopped waiting, so the simulator redelivers it, as the platform does after 15 s."""

    def __init__(self, service_url: str):
        self.forwarded = 0

        async def forward(request: Request) -> Response:
            self.forwarded += 1
            first = self.forwarded == 1
            async with httpx.AsyncClient(timeout=10) as client:
                answer = await client.post(f"{service_url}/webhooks/shopline", content=await request.body(),
                                           headers={k: v for k, v in request.headers.items() if k != "host"})
            if first:
                await asyncio.sleep(SIM_TIMEOUT + 0.5)
            return Response(answer.content, answer.status_code, media_type="application/json")

        self.served = ServedApp(Starlette(routes=[Route("/webhooks/shopline", forward, methods=["POST"])])).start()
        self.url = f"{self.served.url}/webhooks/shopline"


def _run(request: RunRequest, assets: list, resources: dict):
    # Tagged as the sensor daemon tags the run it launches for a request (the run key under dagster/run_key).
    return materialize(assets, resources=resources, run_config=request.run_config or None,
                       selection=request.asset_selection, instance=DagsterInstance.ephemeral(),
                       tags={**request.tags, "dagster/run_key": request.run_key})


def test_shopline_changes_reach_the_service_and_one_run_reimports_exactly_those_products(database_url):
    store = ShoplineStore(products=40, orders=6, seed=8)
    engine = get_engine(database_url)
    with served(service_settings(database_url, False)) as service:
        proxy = LateFirstAnswer(str(service.base_url))
        target = WebhookTarget(proxy.url, LOCAL_SHOPLINE_APP_SECRET, timeout_seconds=SIM_TIMEOUT,
                               redelivery_delay_seconds=0.1)
        simulator = ServedApp(create_app(store, access_token=TOKEN, webhook_target=target)).start()
        try:
            resources = {"catalog_db": CatalogDatabase(database_url=database_url),
                         "shopline": ShoplineResource(base_url=simulator.url, access_token=TOKEN, page_size=25,
                                                      backoff_seconds=0.01),
                         "enricher": EnricherResource()}
            catalog_assets = [*SHOPLINE_ASSETS, *CATALOG_ASSETS[1:], *CATALOG_CHECKS]
            materialize(catalog_assets, resources=resources, instance=DagsterInstance.ephemeral())  # the store, once

            sim = httpx.Client(base_url=simulator.url, timeout=60)
            changed = sim.post("/_sim/change", json={"count": 3}).json()
            untouched = [store.product_id(i) for i in range(40) if store.product_id(i) not in changed["changed"]]
            gone = sim.post("/_sim/products/delete", json={"ids": untouched[:1]}).json()
            stocked = untouched[1]
            variant = store.product(store.index_of("products", stocked))["variants"][0]["id"]
            sim.post("/_sim/inventory", json={"levels": [{"variant_id": variant, "available": 33}]})
            placed = sim.post("/_sim/orders/create", json={"count": 1}).json()
            cancelled = sim.post("/_sim/orders/cancelled", json={"ids": [store.order_id(0)]}).json()["cancelled"]
            deliveries = sim.get("/_sim/webhooks").json()
            before_run = sim.get("/_sim/stats").json()

            # Every webhook arrived; the first one twice (same id), stored once.
            assert deliveries["sent"] == deliveries["delivered"] == 7
            assert deliveries["deliveries"][0]["attempts"] == ["timeout", 200] and proxy.forwarded == 8
            with engine.begin() as conn:
                assert conn.execute(select(func.count()).select_from(webhook_events)).scalar_one() == 7
                conn.execute(update(webhook_events).values(received_at=utcnow() - timedelta(seconds=5)))  # past the lag

            with build_sensor_context(resources={"catalog_db": CatalogDatabase(database_url=database_url)},
                                      repository_def=defs.get_repository_def()) as context:
                runs = {r.job_name: r for r in supplier_events_sensor.evaluate_tick(context).run_requests}
            assert sorted(runs) == ["orders_import", "shopline_import"]
            config = runs["shopline_import"].run_config["ops"]["shopline_products"]["config"]
            assert config["product_ids"] == sorted([*changed["changed"], *gone["deleted"]])
            assert config["variant_ids"] == [variant]

            imported = _run(runs["shopline_import"], catalog_assets, resources)
            orders_run = _run(runs["orders_import"], [shopline_orders], resources)
            after_run = sim.get("/_sim/stats").json()
        finally:
            simulator.stop()
            proxy.served.stop()

    # Exactly those products were read, by id: one nodes(ids:) call, no listing page.
    assert after_run["graphql_fields"] == {**before_run["graphql_fields"], "nodes": 1}
    assert after_run["node_lookups"] == {"Product": 4, "ProductVariant": 1}
    staged = materialization_metadata(imported, "shopline_products")
    assert (staged["mode"], staged["fetched"], staged["changed"], staged["deleted_at_supplier"]) == ("ids", 4, 4, 1)
    central = materialization_metadata(imported, "central_catalog")
    assert (central["updated"], central["archived"]) == (4, 1)
    with engine.connect() as conn:
        rows = {row.external_product_id: row for row in conn.execute(
            select(products).where(products.c.supplier_id == "SHOPLINE"))}
        handled = dict(conn.execute(select(webhook_events.c.event_type, webhook_events.c.run_id)
                                    .where(webhook_events.c.event_type != "products/update")).all())
        updates = set(conn.execute(select(webhook_events.c.run_id)
                                   .where(webhook_events.c.event_type == "products/update")).scalars())
        order_status = dict(conn.execute(select(orders.c.external_id, orders.c.status)
                                         .where(orders.c.platform == "shopline")).all())
    for product_id in changed["changed"]:
        assert rows[product_id].name == store.product(store.index_of("products", product_id))["title"]
    assert rows[gone["deleted"][0]].status == "Archived" and rows[gone["deleted"][0]].archived_at is not None
    assert rows[stocked].available_seats == sum(v["inventory_quantity"] for v in store.product(
        store.index_of("products", stocked))["variants"])
    assert placed["created"][0] in order_status and order_status[cancelled[0]] == "cancelled"
    assert materialization_metadata(orders_run, "shopline_orders")["webhook_events"] == 2
    # Every event names the run that handled it.
    assert updates == {imported.run_id}
    assert handled == {"products/delete": imported.run_id, "inventory_levels/update": imported.run_id,
                       "orders/create": orders_run.run_id, "orders/cancelled": orders_run.run_id}
    # ... and those products (changed, deleted, restocked) go on to every region.
    success = next(e for e in imported.all_events if e.event_type == DagsterEventType.RUN_SUCCESS)
    with build_run_status_sensor_context(
            sensor_name=refresh_regions_after_webhook_import.name, dagster_event=success,
            dagster_instance=DagsterInstance.ephemeral(), dagster_run=imported.dagster_run,
            resources={"catalog_db": CatalogDatabase(database_url=database_url)}) as context:
        refresh = refresh_regions_after_webhook_import(context)
    assert sorted(r.partition_key for r in refresh) == ["JP", "TW", "US"]
    assert all(r.run_config["ops"]["regional_snapshots"]["config"]["product_ids"]
               == sorted([*changed["changed"], *gone["deleted"], stocked]) for r in refresh)
