"""End to end: the Next Engine simulator pushes stock to the running stock service (its real verifier and
ledger), on SQLite and PostgreSQL: the levels and the ledger show the pushed quantities and inventory_sync_log
holds one pending row per push; a push retried after a lost answer, and a repeated push with the same ts,
change nothing; shopline_inventory_sync then sets the pushed levels in the Shopline simulator."""

from __future__ import annotations

import httpx
from dagster import DagsterInstance, materialize
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from commerce_core.db.engine import get_engine
from commerce_core.db.schema import inventory_sync_log, stock_ledger, stock_levels
from commerce_core.settings import LOCAL_NEXTENGINE_STORE
from hub_assets.inventory_sync import shopline_inventory_sync
from hub_assets.shopline_products import shopline_products
from resources import CatalogDatabase, NotifierResource, ShoplineResource
from simulators.asgi_server import ServedApp
from simulators.nextengine import NextEngineData
from simulators.nextengine import create_app as nextengine_app
from simulators.nextengine_push import PushTarget
from simulators.shopline import ShoplineStore
from simulators.shopline import create_app as shopline_app
from stock_service.settings import LOCAL_NEXTENGINE_KEY
from tests.catalog.helpers import materialization_metadata
from tests.stock.helpers import served, service_settings

TOKEN = "e2e-token"
PUSHED = {"SL-0000001-1": 5, "SL-0000002-1": 0, "SL-0000003-1": None}  # Shopline SKUs; None = unlimited


class LostFirstAnswer:
    """In front of the service: the first push reaches it (and is applied) but its answer is replaced by a
    503, as a failing proxy would, so the simulator pushes it again with the same ts and .sig."""

    def __init__(self, service_url: str):
        self.forwarded = 0

        async def forward(request: Request) -> Response:
            self.forwarded += 1
            async with httpx.AsyncClient(timeout=10) as client:
                answer = await client.get(f"{service_url}/webhooks/nextengine/stock?"
                                          f"{request.scope['query_string'].decode('ascii')}")
            if self.forwarded == 1:
                return Response(b"", 503)
            return Response(answer.content, answer.status_code, headers={"Content-Type": answer.headers["content-type"]})

        self.served = ServedApp(Starlette(routes=[Route("/ne", forward, methods=["GET"])])).start()
        self.url = f"{self.served.url}/ne"


def _state(database_url: str) -> tuple[dict, list, int]:
    with get_engine(database_url).connect() as conn:
        levels = {row.sku: (row.on_hand, row.unlimited) for row in conn.execute(select(stock_levels))}
        log = [(row.sku, row.stock, row.outcome, row.sync_status, row.store_account) for row in conn.execute(
            select(inventory_sync_log).order_by(inventory_sync_log.c.sku))]
        pushes = conn.execute(select(func.count()).select_from(stock_ledger)
                              .where(stock_ledger.c.entry_type == "push")).scalar_one()
    return levels, log, pushes


def test_simulated_next_engine_pushes_reach_the_stock_service_and_then_shopline(database_url):
    store = ShoplineStore(products=6, orders=0, seed=8)
    shopline = ServedApp(shopline_app(store, access_token=TOKEN)).start()
    resources = {"catalog_db": CatalogDatabase(database_url=database_url),
                 "shopline": ShoplineResource(base_url=shopline.url, access_token=TOKEN, backoff_seconds=0.01),
                 "notifier": NotifierResource(backoff_seconds=0.01)}
    try:
        materialize([shopline_products], resources=resources, instance=DagsterInstance.ephemeral())  # the SKU map
        with served(service_settings(database_url, False)) as service:
            proxy = LostFirstAnswer(str(service.base_url))
            target = PushTarget(proxy.url, LOCAL_NEXTENGINE_STORE, LOCAL_NEXTENGINE_KEY, timeout_seconds=10,
                                retry_delay_seconds=0.05)
            ne = ServedApp(nextengine_app(NextEngineData(products=5, orders=0), access_token="a", refresh_token="r",
                                          push_target=target)).start()
            try:
                sim = httpx.Client(base_url=ne.url, timeout=60)
                items = [{"code": sku, "stock": stock} for sku, stock in PUSHED.items()]
                first = sim.post("/_sim/push-stock", json={"items": items}).json()["pushes"]
                available = {sku: service.get(f"/stock/{sku}").json()["available"] for sku in PUSHED}
                after_first = _state(database_url)
                ts = first[0]["params"]["ts"]
                again = sim.post("/_sim/push-stock", json={"items": items, "ts": ts}).json()["pushes"]
                after_again = _state(database_url)
                sim.post("/_sim/clock", json={"advance_seconds": 2 * 86400})  # its ts now lies too far ahead
                [refused] = sim.post("/_sim/push-stock", json={"items": items[:1]}).json()["pushes"]
                after_refused = _state(database_url)
            finally:
                ne.stop()
                proxy.served.stop()

        # The first push was applied, its answer lost, pushed again (same ts and .sig) and applied once.
        assert [a["status"] for a in first[0]["attempts"]] == [503, 200]
        assert [d["delivered"] for d in first] == [True, True, True] and proxy.forwarded == 4 + 3 + 1
        assert available == PUSHED
        levels, log, pushes = after_first
        assert levels == {"SL-0000001-1": (5, False), "SL-0000002-1": (0, False), "SL-0000003-1": (0, True)}
        assert log == [(sku, stock, "applied", "pending", LOCAL_NEXTENGINE_STORE) for sku, stock in PUSHED.items()]
        assert pushes == 3
        # The same ts again: answered 0 (a replay), nothing changes.
        assert [(d["processed"], len(d["attempts"])) for d in again] == [(0, 1)] * 3
        assert [d["params"][".sig"] for d in again] == [d["params"][".sig"] for d in first]
        assert after_again == after_first
        # A ts more than a day ahead: -2, sent once, nothing recorded.
        assert (refused["processed"], len(refused["attempts"])) == (-2, 1)
        assert after_refused == after_first

        # On to Shopline: the pushed levels are set there; the unlimited one is nothing Shopline can hold.
        synced = materialize([shopline_inventory_sync], resources=resources, instance=DagsterInstance.ephemeral())
        metadata = materialization_metadata(synced, "shopline_inventory_sync")
        assert (metadata["succeeded"], metadata["skipped_unlimited"]) == (2, 1)
        levels_at_shopline = httpx.get(f"{shopline.url}/_sim/inventory").json()["levels"]
        assert {sku: level["available"] for sku, level in levels_at_shopline.items()} == \
            {sku: stock for sku, stock in PUSHED.items() if stock is not None}
    finally:
        shopline.stop()
