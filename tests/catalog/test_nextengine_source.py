"""Next Engine goods through the catalog stages beside SERP, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from dagster import DagsterInstance, materialize
from sqlalchemy import select

from commerce_core.connectors import token_store
from commerce_core.connectors.nextengine import PLATFORM
from commerce_core.connectors.token_store import TokenPair
from commerce_core.db.engine import get_engine
from commerce_core.db.schema import import_rejects, products
from hub_assets.catalog import CATALOG_ASSETS, CATALOG_CHECKS, NEXTENGINE_ASSETS
from resources import CatalogDatabase, EnricherResource, NextEngineResource
from simulators.asgi_server import ServedApp
from simulators.nextengine import NextEngineData, create_app
from tests.catalog.helpers import materialization_metadata, run_catalog

SHOP = "test-shop"


@pytest.fixture
def nextengine_shop(database_url):
    data = NextEngineData(products=120, orders=10, seed=3)
    served = ServedApp(create_app(data, access_token="a0", refresh_token="r0")).start()
    with get_engine(database_url).begin() as conn:
        token_store.authorise(conn, PLATFORM, SHOP, TokenPair("a0", "r0"))
    yield served, data
    served.stop()


def _import(database_url: str, url: str):
    return materialize(
        [*NEXTENGINE_ASSETS, *CATALOG_ASSETS[1:], *CATALOG_CHECKS],
        resources={"catalog_db": CatalogDatabase(database_url=database_url),
                   "nextengine": NextEngineResource(base_url=url, store_account=SHOP, page_size=50,
                                                    backoff_seconds=0.01),
                   "enricher": EnricherResource()},
        instance=DagsterInstance.ephemeral(),
    )


def test_next_engine_goods_reach_the_central_catalog_and_a_rerun_changes_nothing(database_url, nextengine_shop):
    served, data = nextengine_shop
    first = _import(database_url, served.url)
    assert materialization_metadata(first, "nextengine_products")["fetched"] == 120
    central = materialization_metadata(first, "central_catalog")
    assert central["inserted"] == 120
    with get_engine(database_url).connect() as conn:
        row = conn.execute(select(products).where(products.c.external_product_id == "NE-0000001")).mappings().one()
    assert (row["supplier_id"], row["product_type"], row["language"]) == ("NEXTENGINE", "Goods", "ja-JP")

    again = materialization_metadata(_import(database_url, served.url), "central_catalog")
    assert (again["inserted"], again["updated"]) == (0, 0)
    data.change(3)
    changed = materialization_metadata(_import(database_url, served.url), "central_catalog")
    assert changed["updated"] == 3


def test_serp_and_next_engine_merge_in_one_catalog(database_url, nextengine_shop, serp_simulator):
    served, _ = nextengine_shop
    serp, _ = serp_simulator(products=40)
    run_catalog(database_url, serp.url, mode="full")
    merged = materialization_metadata(_import(database_url, served.url), "central_catalog")
    assert "| NEXTENGINE | 120 |" in merged["products_by_supplier"] and "| SERP | 40 |" in merged["products_by_supplier"]
    with get_engine(database_url).connect() as conn:
        suppliers = set(conn.execute(select(products.c.supplier_id)).scalars())
        assert conn.execute(select(import_rejects.c.rule).where(import_rejects.c.supplier_id == "NEXTENGINE")
                            ).all() == []
    assert suppliers == {"SERP", "NEXTENGINE"}
