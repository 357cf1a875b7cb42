"""ShoplineClient.products_by_id against the simulator: nodes(ids:) in calls of 250, each product once,
a product the store no longer has reported missing."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from commerce_core.connectors.shopline import ShoplineClient, ShoplineError
from commerce_core.http.resilience import ResilientHttpClient, RetrySettings
from simulators.asgi_server import ServedApp
from simulators.shopline import API_VERSION, ShoplineStore, create_app

TOKEN = "client-token"


def test_products_by_id_reads_in_calls_of_250_each_product_once_and_reports_deleted_ones():
    store = ShoplineStore(products=400, orders=1, seed=2)
    deleted = store.delete([store.product_id(5)])
    with ServedApp(create_app(store, access_token=TOKEN)) as served:
        client = ShoplineClient(ResilientHttpClient(served.url, headers={"Authorization": f"Bearer {TOKEN}"},
                                                    retry=RetrySettings(max_attempts=2, backoff_seconds=0.01)),
                                API_VERSION)
        product_ids = [store.product_id(i) for i in range(300)]
        variants = [store.product(0)["variants"][0]["id"],  # a product also asked for by id: read once
                    store.product(350)["variants"][-1]["id"], "18057190999999"]  # the last one is unknown
        missing: list[str] = []
        pages = list(client.products_by_id(product_ids + product_ids[:3], variants, missing))
        client.close()
        calls = served.app.state.stats.graphql_fields
    ids = [node["id"].rsplit("/", 1)[1] for page in pages for node in page]
    assert ids == [pid for pid in product_ids if pid not in deleted] + [store.product_id(350)]
    assert missing == deleted
    assert calls == {"nodes": 2}  # 302 distinct ids: 250 + 52


def test_a_next_page_without_a_cursor_stops_the_walk_instead_of_restarting_it():
    calls = []

    async def graphql(request):
        calls.append(1)
        node = {"id": "gid://shopline/Product/1", "title": "t"}
        return JSONResponse({"data": {"products": {"edges": [{"node": node}],
                                                   "pageInfo": {"hasNextPage": True, "endCursor": None}}}})

    app = Starlette(routes=[Route(f"/admin/openapi/{API_VERSION}/graphql.json", graphql, methods=["POST"])])
    with ServedApp(app) as served:
        client = ShoplineClient(ResilientHttpClient(served.url, retry=RetrySettings(max_attempts=1)), API_VERSION)
        pages = client.products(10)
        assert len(next(pages)) == 1
        with pytest.raises(ShoplineError, match="without an endCursor"):
            next(pages)
        client.http.close()
    assert len(calls) == 1
