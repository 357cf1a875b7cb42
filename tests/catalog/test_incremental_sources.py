"""Incremental reads of Shopline products and Next Engine goods through the unified filters, and the paging
edge cases (a record that changes during the walk, an empty last page), against the simulators over HTTP,
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import httpx
import orjson
import pytest
from dagster import DagsterInstance, materialize
from sqlalchemy import func, select

from commerce_core.connectors import token_store
from commerce_core.connectors.converters import UnifiedFilter, shopline_graphql_query
from commerce_core.connectors.nextengine import PLATFORM
from commerce_core.connectors.token_store import TokenPair
from commerce_core.db.cursors import set_cursor
from commerce_core.db.engine import get_engine
from commerce_core.db.schema import import_rejects, products, supplier_records
from commerce_core.http.resilience import ResilientHttpClient, RetrySettings
from commerce_core.connectors.shopline import ShoplineClient
from hub_assets.catalog import CATALOG_ASSETS, CATALOG_CHECKS, NEXTENGINE_ASSETS, SHOPLINE_ASSETS
from hub_assets.shopline_products import SHOPLINE_CURSOR
from resources import CatalogDatabase, EnricherResource, NextEngineResource, ShoplineResource
from simulators import nextengine as ne_sim
from simulators.asgi_server import ServedApp
from simulators.shopline import API_VERSION, ShoplineStore, create_app
from tests.catalog.helpers import materialization_metadata

TOKEN = "test-token"
SHOP = "test-shop"


class ChangeDuringWalk:
    """ASGI wrapper around a simulator: once armed, the `after`-th answered call to `path` runs `change`
    before the next call is served, i.e. while the client is between two pages of its walk."""

    def __init__(self, app, path: str):
        self.app = app
        self.path = path
        self.pending: list | None = None

    def arm(self, after: int, change: Callable[[], object]) -> None:
        self.pending = [after, change]

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)
        if self.pending and scope["type"] == "http" and scope["path"].endswith(self.path):
            self.pending[0] -= 1
            if self.pending[0] == 0:
                change, self.pending = self.pending[1], None
                change()


@pytest.fixture
def shopline_store():
    store = ShoplineStore(products=60, orders=0, seed=21)
    app = ChangeDuringWalk(create_app(store, access_token=TOKEN), "/graphql.json")
    served = ServedApp(app).start()
    yield served, store, app
    served.stop()


@pytest.fixture
def nextengine_shop(database_url):
    data = ne_sim.NextEngineData(products=120, orders=0, seed=5)
    app = ChangeDuringWalk(ne_sim.create_app(data, access_token="a0", refresh_token="r0"), ne_sim.GOODS_PATH)
    served = ServedApp(app).start()
    with get_engine(database_url).begin() as conn:
        token_store.authorise(conn, PLATFORM, SHOP, TokenPair("a0", "r0"))
    yield served, data, app
    served.stop()


def _shopline_import(database_url: str, url: str, page_size: int, mode: str = "incremental"):
    return materialize(
        [*SHOPLINE_ASSETS, *CATALOG_ASSETS[1:], *CATALOG_CHECKS],
        resources={"catalog_db": CatalogDatabase(database_url=database_url),
                   "shopline": ShoplineResource(base_url=url, access_token=TOKEN, page_size=page_size,
                                                backoff_seconds=0.01),
                   "enricher": EnricherResource()},
        run_config={"ops": {"shopline_products": {"config": {"mode": mode}}}},
        instance=DagsterInstance.ephemeral(),
    )


def _nextengine_import(database_url: str, url: str, page_size: int):
    return materialize(
        [*NEXTENGINE_ASSETS, *CATALOG_ASSETS[1:], *CATALOG_CHECKS],
        resources={"catalog_db": CatalogDatabase(database_url=database_url),
                   "nextengine": NextEngineResource(base_url=url, store_account=SHOP, page_size=page_size,
                                                    backoff_seconds=0.01),
                   "enricher": EnricherResource()},
        instance=DagsterInstance.ephemeral(),
    )


def _graphql_calls(url: str) -> int:
    return httpx.get(f"{url}/_sim/stats").json()["calls"]["graphql"]


def _staged(database_url: str, supplier: str, external_id: str) -> dict:
    with get_engine(database_url).connect() as conn:
        payload = conn.execute(select(supplier_records.c.payload).where(
            supplier_records.c.supplier_id == supplier, supplier_records.c.external_id == external_id)).scalar_one()
    return orjson.loads(payload)


def _catalog_count(database_url: str, supplier: str) -> tuple[int, int]:
    with get_engine(database_url).connect() as conn:
        return conn.execute(select(func.count(), func.count(products.c.external_product_id.distinct()))
                            .where(products.c.supplier_id == supplier)).one()


def test_a_second_shopline_read_fetches_only_what_changed(database_url, shopline_store):
    served, store, _ = shopline_store
    first = materialization_metadata(_shopline_import(database_url, served.url, 25), "shopline_products")
    assert (first["mode"], first["fetched"], first["new"]) == ("full", 60, 60)
    calls = _graphql_calls(served.url)
    changed = store.change(4)
    second = _shopline_import(database_url, served.url, 25)
    staged = materialization_metadata(second, "shopline_products")
    # The filter is inclusive (updated_at:>=): the product stamped in the cursor's own second is read again
    # on purpose (a record stored later in that second is not lost); it is unchanged and not staged.
    boundary = store.product_id(59)
    assert staged["mode"] == "incremental" and staged["fetched"] == len(set(changed) | {boundary})
    assert (staged["changed"], staged["new"]) == (4, 0)
    assert _graphql_calls(served.url) - calls == 1  # one page, not the listing
    assert materialization_metadata(second, "central_catalog")["updated"] == 4
    nothing = materialization_metadata(_shopline_import(database_url, served.url, 25), "shopline_products")
    # The overlap reads the last minutes' changes again; unchanged, they are not staged twice.
    assert (nothing["fetched"], nothing["changed"]) == (4, 0)
    assert _catalog_count(database_url, "SHOPLINE") == (60, 60)


def test_a_second_next_engine_read_fetches_only_what_changed(database_url, nextengine_shop):
    served, data, _ = nextengine_shop
    first = materialization_metadata(_nextengine_import(database_url, served.url, 50), "nextengine_products")
    assert (first["mode"], first["fetched"]) == ("full", 120)
    calls = httpx.get(f"{served.url}/_sim/stats").json()["calls"][ne_sim.GOODS_PATH]
    changed = data.change(3)
    second = _nextengine_import(database_url, served.url, 50)
    staged = materialization_metadata(second, "nextengine_products")
    assert staged["fetched"] == len(set(changed) | {data.goods_id(119)})  # goods_last_modified_date-gte cursor
    assert staged["changed"] == 3
    assert httpx.get(f"{served.url}/_sim/stats").json()["calls"][ne_sim.GOODS_PATH] - calls == 1
    assert materialization_metadata(second, "central_catalog")["updated"] == 3


def test_a_product_changed_during_the_graphql_walk_is_never_lost_nor_duplicated(database_url, shopline_store):
    served, store, app = shopline_store
    before = {i: store.product_node(i) for i in (5, 55)}
    # After the third page (products 0-29), product 5 (already read) and product 55 (not yet) change.
    app.arm(3, lambda: store.change_indices([5, 55]))
    first = _shopline_import(database_url, served.url, 10)
    assert materialization_metadata(first, "shopline_products")["fetched"] == 60
    assert _catalog_count(database_url, "SHOPLINE") == (60, 60)
    # 55 was read after its change; 5 was read before it: this walk holds its old version.
    assert _staged(database_url, "SHOPLINE", store.product_id(55)) == store.product_node(55) != before[55]
    assert _staged(database_url, "SHOPLINE", store.product_id(5)) == before[5] != store.product_node(5)

    # The cursor stayed behind the walk's start, so the next incremental read brings product 5's change.
    second = _shopline_import(database_url, served.url, 10)
    staged = materialization_metadata(second, "shopline_products")
    assert staged["mode"] == "incremental" and staged["changed"] == 1
    assert _staged(database_url, "SHOPLINE", store.product_id(5)) == store.product_node(5)
    assert materialization_metadata(second, "central_catalog")["updated"] == 1
    assert _catalog_count(database_url, "SHOPLINE") == (60, 60)


def test_a_next_engine_offset_walk_shifted_by_a_change_repeats_nothing_and_loses_nothing(database_url,
                                                                                         nextengine_shop):
    served, data, app = nextengine_shop
    _nextengine_import(database_url, served.url, 50)
    data.change_indices([10, 20, 30, 40])
    # Matching goods: 10, 20, 30, 40 and 119 (the cursor's second). After the first page (10, 20), goods 5
    # starts to match in front of the offset: the listing shifts and 20 comes again on the second page.
    app.arm(1, lambda: data.change_indices([5]))
    shifted = materialization_metadata(_nextengine_import(database_url, served.url, 2), "nextengine_products")
    assert shifted["repeated_across_pages"] == 1
    assert (shifted["fetched"], shifted["changed"]) == (5, 4)
    with get_engine(database_url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(import_rejects)).scalar_one() == 0
    assert _staged(database_url, "NEXTENGINE", data.goods_id(5)) != data.product(5)  # missed by this walk...
    again = materialization_metadata(_nextengine_import(database_url, served.url, 2), "nextengine_products")
    assert again["changed"] == 1  # ...and brought by the next one
    assert _staged(database_url, "NEXTENGINE", data.goods_id(5)) == data.product(5)
    assert _catalog_count(database_url, "NEXTENGINE") == (120, 120)


def test_an_empty_last_page_ends_the_walk(database_url, shopline_store):
    served, store, _ = shopline_store
    store.change_indices([50])
    store.change_indices([3, 7])  # a second later than 50's change
    since = datetime.fromisoformat(store.product(3)["updated_at"]).astimezone(timezone.utc)
    client = ShoplineClient(ResilientHttpClient(served.url, headers={"Authorization": f"Bearer {TOKEN}"},
                                                retry=RetrySettings(max_attempts=2, backoff_seconds=0.01)),
                            API_VERSION)
    calls = _graphql_calls(served.url)
    pages = list(client.products(page_size=2, search=shopline_graphql_query(UnifiedFilter(updated_since=since))))
    client.close()
    # Page one holds both matches and says more may follow (product 50 is still a candidate); page two is empty.
    assert [[node["id"].rsplit("/", 1)[1] for node in page] for page in pages] == [
        [store.product_id(3), store.product_id(7)]]
    assert _graphql_calls(served.url) - calls == 2

    # The asset ends its walk the same way: nothing archived, the cursor kept, every record once.
    _shopline_import(database_url, served.url, 25)
    with get_engine(database_url).begin() as conn:
        set_cursor(conn, SHOPLINE_CURSOR, since.isoformat())
    staged = materialization_metadata(_shopline_import(database_url, served.url, 2), "shopline_products")
    assert (staged["fetched"], staged["deleted_at_supplier"], staged["cursor"]) == (2, 0, since.isoformat())
    assert _catalog_count(database_url, "SHOPLINE") == (60, 60)
