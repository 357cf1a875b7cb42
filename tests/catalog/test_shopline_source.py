"""Shopline products (GraphQL) and orders (REST, Link-header cursors) against the simulator."""

from __future__ import annotations

from dagster import DagsterInstance, materialize
from sqlalchemy import select

from commerce_core.connectors.shopline import ShoplineClient
from commerce_core.db.engine import get_engine
from commerce_core.db.schema import products
from commerce_core.http.resilience import ResilientHttpClient, RetrySettings
from hub_assets.catalog import CATALOG_ASSETS, CATALOG_CHECKS, SHOPLINE_ASSETS
from resources import CatalogDatabase, EnricherResource, ShoplineResource
from simulators.asgi_server import ServedApp
from simulators.shopline import API_VERSION, ShoplineStore, create_app
from tests.catalog.helpers import materialization_metadata

TOKEN = "test-token"


def _client(url: str) -> ShoplineClient:
    http = ResilientHttpClient(url, headers={"Authorization": f"Bearer {TOKEN}"},
                               retry=RetrySettings(max_attempts=3, backoff_seconds=0.01))
    return ShoplineClient(http, API_VERSION)


def test_rest_and_graphql_paging_see_every_record_once():
    store = ShoplineStore(products=230, orders=120, seed=4)
    served = ServedApp(create_app(store, access_token=TOKEN)).start()
    try:
        client = _client(served.url)
        graphql_ids = [node["id"] for page in client.products(page_size=100) for node in page]
        rest_ids = [record["id"] for page in client.rest("products", limit=100) for record in page]
        orders = [order for page in client.rest("orders", limit=50) for order in page]
        client.close()
    finally:
        served.stop()
    assert len(graphql_ids) == len(set(graphql_ids)) == 230
    assert {gid.rsplit("/", 1)[1] for gid in graphql_ids} == set(rest_ids)
    assert len(orders) == 120 and len({o["customer"]["email"] for o in orders}) < 120


def test_shopline_products_reach_the_central_catalog(database_url):
    store = ShoplineStore(products=80, orders=5, seed=6)
    served = ServedApp(create_app(store, access_token=TOKEN)).start()
    resources = {"catalog_db": CatalogDatabase(database_url=database_url),
                 "shopline": ShoplineResource(base_url=served.url, access_token=TOKEN, page_size=30,
                                              backoff_seconds=0.01),
                 "enricher": EnricherResource()}

    def run():
        return materialize([*SHOPLINE_ASSETS, *CATALOG_ASSETS[1:], *CATALOG_CHECKS], resources=resources,
                           instance=DagsterInstance.ephemeral())
    try:
        first = run()
        assert materialization_metadata(first, "shopline_products")["fetched"] == 80
        assert materialization_metadata(first, "central_catalog")["inserted"] == 80
        with get_engine(database_url).connect() as conn:
            row = conn.execute(select(products).where(products.c.supplier_id == "SHOPLINE")
                               .order_by(products.c.external_product_id)).mappings().first()
        assert row["external_product_id"].isdigit() and row["language"] == "zh-TW"
        assert materialization_metadata(run(), "central_catalog")["updated"] == 0
        store.change(2)
        assert materialization_metadata(run(), "central_catalog")["updated"] == 2
    finally:
        served.stop()
