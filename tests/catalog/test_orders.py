"""Shopline and Next Engine orders as unified orders, customers de-duplicated by e-mail, on both databases."""

from __future__ import annotations

from decimal import Decimal

from dagster import DagsterInstance, materialize
from sqlalchemy import func, select

from commerce_core.connectors import token_store
from commerce_core.connectors.nextengine import PLATFORM
from commerce_core.connectors.token_store import TokenPair
from commerce_core.db.engine import get_engine
from commerce_core.db.schema import customers, order_lines, orders
from hub_assets.orders import nextengine_orders, shopline_orders
from resources import CatalogDatabase, NextEngineResource, ShoplineResource
from simulators.asgi_server import ServedApp
from simulators.nextengine import NextEngineData
from simulators.nextengine import create_app as nextengine_app
from simulators.shopline import ShoplineStore
from simulators.shopline import create_app as shopline_app
from tests.catalog.helpers import materialization_metadata


def test_orders_from_both_platforms_become_unified_orders(database_url):
    store, data = ShoplineStore(products=20, orders=60, seed=2), NextEngineData(products=20, orders=45, seed=2)
    shopline = ServedApp(shopline_app(store, access_token="t")).start()
    nextengine = ServedApp(nextengine_app(data, access_token="a0", refresh_token="r0")).start()
    people = {"shopline": {store.order(i)["customer"]["email"].lower() for i in range(60)},
              "nextengine": {data.order(i)["receive_order_purchaser_mail_address"].lower() for i in range(45)}}
    engine = get_engine(database_url)
    with engine.begin() as conn:
        token_store.authorise(conn, PLATFORM, "shop", TokenPair("a0", "r0"))
    resources = {"catalog_db": CatalogDatabase(database_url=database_url),
                 "shopline": ShoplineResource(base_url=shopline.url, access_token="t", backoff_seconds=0.01),
                 "nextengine": NextEngineResource(base_url=nextengine.url, store_account="shop", page_size=20,
                                                  backoff_seconds=0.01)}
    try:
        def run():
            return materialize([shopline_orders, nextengine_orders], resources=resources,
                               instance=DagsterInstance.ephemeral())
        first = run()
        assert materialization_metadata(first, "shopline_orders")["inserted"] == 60
        assert materialization_metadata(first, "nextengine_orders")["inserted"] == 45
        again = run()
        assert materialization_metadata(again, "shopline_orders")["unchanged"] == 60
        assert materialization_metadata(again, "nextengine_orders")["unchanged"] == 45
    finally:
        shopline.stop()
        nextengine.stop()
    with engine.connect() as conn:
        by_platform = dict(conn.execute(select(customers.c.platform, func.count()).group_by(customers.c.platform)).all())
        assert by_platform == {platform: len(emails) for platform, emails in people.items()}  # one per e-mail
        assert by_platform["nextengine"] < 45
        totals = conn.execute(select(customers.c.order_count, customers.c.total_spent)
                              .where(customers.c.platform == "nextengine")).all()
        assert sum(count for count, _ in totals) == 45
        assert all(isinstance(spent, Decimal) for _, spent in totals)
        order = conn.execute(select(orders).where(orders.c.platform == "nextengine")
                             .order_by(orders.c.external_id)).mappings().first()
        lines = conn.execute(select(order_lines).where(order_lines.c.order_id == order["id"])).mappings().all()
        assert order["currency"] == "JPY" and order["ordered_at"].tzinfo is not None
        assert sum(line["unit_price"] * line["quantity"] for line in lines) == order["subtotal"]
