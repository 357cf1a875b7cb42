"""Shopline simulator beyond the listings: nodes(ids:), deletions, and the signed webhooks it sends
(with redelivery) when its admin routes change products, inventory and orders."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from commerce_core.webhooks.signatures import verify_shopline
from simulators.asgi_server import ServedApp
from simulators.shopline import API_VERSION, ShoplineStore, create_app
from simulators.shopline_webhooks import WebhookTarget

TOKEN = "tok-123"
SECRET = "app-secret-1"
BASE = f"/admin/openapi/{API_VERSION}"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NODES = "query Nodes($ids: [ID!]!) { nodes(ids: $ids) { ... on Product { id title } } }"
PRODUCTS_GQL = "query P($first: Int!, $after: String) { products(first: $first, after: $after) { edges { node { id } } " \
               "pageInfo { hasNextPage endCursor } } }"


class Receiver:
    """A webhook endpoint that keeps every request and answers as told: `plan` is consumed per request
    (an int status, or ("slow", seconds) to answer 200 late); 200 once the plan is used up."""

    def __init__(self, plan: list | None = None):
        self.plan = list(plan or [])
        self.requests: list[tuple[dict, bytes]] = []
        self.lock = threading.Lock()

        async def receive(request: Request) -> JSONResponse:
            body = await request.body()
            with self.lock:
                self.requests.append((dict(request.headers), body))
                step = self.plan.pop(0) if self.plan else 200
            if isinstance(step, tuple):
                await asyncio.sleep(step[1])  # the simulator's client stops waiting before this ends
                step = 200
            return JSONResponse({"ok": step == 200}, status_code=step)

        self.served = ServedApp(Starlette(routes=[Route("/hook", receive, methods=["POST"])])).start()
        self.url = f"{self.served.url}/hook"


@contextmanager
def store_with_receiver(plan: list | None = None, *, timeout: float = 5.0,
                        products: int = 30) -> Iterator[tuple[httpx.Client, ShoplineStore, Receiver]]:
    receiver = Receiver(plan)
    store = ShoplineStore(products=products, orders=10, seed=5)
    target = WebhookTarget(receiver.url, SECRET, timeout_seconds=timeout, redelivery_delay_seconds=0.05)
    try:
        with ServedApp(create_app(store, access_token=TOKEN, webhook_target=target)) as srv, \
                httpx.Client(base_url=srv.url, timeout=30, headers=AUTH) as client:
            yield client, store, receiver
    finally:
        receiver.served.stop()


def _nodes(client: httpx.Client, gids: list[str]) -> dict:
    return client.post(f"{BASE}/graphql.json", json={"query": NODES, "variables": {"ids": gids}}).json()


def test_nodes_by_id_answer_products_variants_and_null_for_what_the_store_lacks():
    with store_with_receiver() as (client, store, _):
        pid, gone = store.product_id(3), store.product_id(4)
        variant = store.product(7)["variants"][-1]["id"]
        assert client.post("/_sim/products/delete", json={"ids": [gone]}).json()["deleted"] == [gone]
        found = _nodes(client, [f"gid://shopline/Product/{pid}", f"gid://shopline/ProductVariant/{variant}",
                                f"gid://shopline/Product/{gone}", "gid://shopline/Product/999"])["data"]["nodes"]
        assert found[0] == store.product_node(3)
        assert found[1] == {"id": f"gid://shopline/ProductVariant/{variant}", "product": store.product_node(7)}
        assert found[2:] == [None, None]
        literal = client.post(f"{BASE}/graphql.json", json={
            "query": f'{{ nodes(ids: ["gid://shopline/Product/{pid}"]) {{ id }} }}'}).json()
        assert literal["data"]["nodes"] == [store.product_node(3)]
        assert "errors" in _nodes(client, ["Product/1"])
        assert "errors" in _nodes(client, [f"gid://shopline/Product/{pid}"] * 251)
        stats = client.get("/_sim/stats").json()
        assert stats["graphql_fields"] == {"nodes": 2} and stats["node_lookups"] == {"Product": 4, "ProductVariant": 1}


def test_deleted_products_leave_both_listings_and_paging_still_sees_every_live_one_once():
    with store_with_receiver(products=25) as (client, store, _):
        gone = [store.product_id(i) for i in (0, 5, 6, 7, 8, 9, 24)]  # a whole page's worth in the middle
        client.post("/_sim/products/delete", json={"ids": gone})
        rest, url = [], f"{BASE}/products/products.json?limit=5"
        while url:
            answer = client.get(url)
            rest += [p["id"] for p in answer.json()["products"]]
            url = answer.headers.get("link", "").partition("<")[2].partition(">")[0]
        graphql, after = [], None
        while True:
            page = client.post(f"{BASE}/graphql.json", json={"query": PRODUCTS_GQL,
                                                             "variables": {"first": 5, "after": after}}).json()
            connection = page["data"]["products"]
            graphql += [edge["node"]["id"].rsplit("/", 1)[1] for edge in connection["edges"]]
            if not connection["pageInfo"]["hasNextPage"]:
                break
            after = connection["pageInfo"]["endCursor"]
    live = [store.product_id(i) for i in range(25) if store.product_id(i) not in gone]
    assert rest == graphql == live


def test_admin_changes_are_sent_as_signed_webhooks_per_the_contract():
    with store_with_receiver() as (client, store, receiver):
        updated = client.post("/_sim/change", json={"count": 2}).json()
        created = client.post("/_sim/products/create", json={"count": 1}).json()
        deleted = client.post("/_sim/products/delete", json={"ids": [updated["changed"][0]]}).json()
        variant = store.product(1)["variants"][0]["id"]
        levels = client.post("/_sim/inventory", json={"levels": [{"variant_id": variant, "available": 17}]}).json()
        placed = client.post("/_sim/orders/create", json={"count": 1}).json()
        paid = client.post("/_sim/orders/paid", json={"ids": placed["created"]}).json()
        cancelled = client.post("/_sim/orders/cancelled", json={"ids": [store.order_id(0)]}).json()
        assert client.post("/_sim/inventory", json={"levels": [{"variant_id": "1", "available": 1}]}).status_code == 400
        log = client.get("/_sim/webhooks").json()
    topics = [headers["x-shopline-topic"] for headers, _ in receiver.requests]
    assert topics == ["products/update", "products/update", "products/create", "products/delete",
                      "inventory_levels/update", "orders/create", "orders/paid", "orders/cancelled"]
    for headers, body in receiver.requests:
        verify_shopline(headers, body, SECRET)  # the service's own verifier: raises on a bad signature
        assert headers["x-shopline-hmac-sha256"] == headers["x-shopline-hmac-sha256"].lower()
        assert headers["x-shopline-shop-domain"] == "sim-shop.myshopline.com"
        assert headers["x-shopline-api-version"] == API_VERSION
    ids = [headers["x-shopline-webhook-id"] for headers, _ in receiver.requests]
    assert len(set(ids)) == 8 and [d["webhook_id"] for d in log["deliveries"]] == ids
    bodies = [orjson.loads(body) for _, body in receiver.requests]
    assert [b["id"] for b in bodies[:2]] == updated["changed"] and bodies[2]["id"] == created["created"][0]
    assert bodies[3] == {"id": deleted["deleted"][0]}
    level = bodies[4]
    assert (level["variant_id"], level["available"], level["onhand"]) == (variant, 17, 17)
    assert {"inventory_item_id", "location_id", "committed", "unavailable", "updated_at"} <= set(level)
    assert store.product(1)["variants"][0]["inventory_quantity"] == 17 and levels["updated"] == [variant]
    assert bodies[5]["id"] == bodies[6]["id"] == placed["created"][0] == paid["paid"][0]
    assert bodies[6]["financial_status"] == "paid"
    assert bodies[7]["id"] == cancelled["cancelled"][0] and bodies[7]["cancelled_at"]
    assert log["sent"] == log["delivered"] == log["attempts"] == 8


@pytest.mark.parametrize("plan, attempts, delivered", [
    ([500, 503], [500, 503, 200], True),
    ([("slow", 1.5)], ["timeout", 200], True),
    ([500, 500, 500, 500, 500], [500, 500, 500, 500], False),  # 3 redeliveries, then the platform gives up
])
def test_a_failed_or_slow_delivery_is_redelivered_with_the_same_webhook_id(plan, attempts, delivered):
    with store_with_receiver(plan, timeout=0.5) as (client, _, receiver):
        [delivery] = client.post("/_sim/change", json={"count": 1}).json()["webhooks"]
    assert (delivery["attempts"], delivery["delivered"]) == (attempts, delivered)
    assert len(receiver.requests) == len(attempts)
    assert {headers["x-shopline-webhook-id"] for headers, _ in receiver.requests} == {delivery["webhook_id"]}
    assert len({body for _, body in receiver.requests}) == 1  # the same body, so the same signature


def test_without_a_target_changes_are_made_and_nothing_is_sent():
    store = ShoplineStore(products=5, orders=2, seed=1)
    with ServedApp(create_app(store, access_token=TOKEN)) as srv:
        answer = httpx.post(f"{srv.url}/_sim/products/create", json={"count": 2}).json()
        assert answer["webhooks"] == [] and store.products == 7
        assert httpx.post(f"{srv.url}/_sim/products/create", json={"count": -1}).status_code == 400


def test_an_inventory_webhook_names_the_inventory_item_and_location_the_api_does():
    with store_with_receiver() as (client, store, receiver):
        variant_id = store.variant_id(4, 0)
        before = store.product(4)["updated_at"]
        client.post("/_sim/inventory", json={"levels": [{"variant_id": variant_id, "available": 6}]})
        [(_, body)] = receiver.requests
        level = orjson.loads(body)
        variant = client.get(f"{BASE}/products/variants/{variant_id}.json").json()["variant"]
        [location] = client.get(f"{BASE}/locations/list.json").json()["locations"]
        assert (level["inventory_item_id"], level["location_id"]) == (variant["inventory_item_id"], location["id"])
        assert level["inventory_item_id"] == store.inventory_item_id(4, 0)
        assert (level["variant_id"], level["available"], variant["inventory_quantity"]) == (variant_id, 6, 6)
        # The admin change goes through the one setter: updated_at moves, as a set.json call's does.
        assert store.product(4)["updated_at"] > before and level["updated_at"] == store.product(4)["updated_at"]
        # The ids the webhook names are the ones set.json takes; only that API call is listed among the sets.
        answer = client.post(f"{BASE}/inventory_levels/set.json", json={
            "inventory_item_id": level["inventory_item_id"], "location_id": level["location_id"], "available": 2})
        assert answer.status_code == 200 and answer.json()["inventory_level"]["variant_id"] == variant_id
        inventory = client.get("/_sim/inventory").json()
        assert inventory["sets"] == [{"variant_id": variant_id, "available": 2}]
        assert inventory["levels"]["SL-0000005-1"]["available"] == 2


def test_a_deleted_products_variant_is_not_found_and_its_level_cannot_be_set():
    with store_with_receiver() as (client, store, receiver):
        variant_id, item = store.variant_id(3, 0), store.inventory_item_id(3, 0)
        client.post("/_sim/products/delete", json={"ids": [store.product_id(3)]})
        assert client.get(f"{BASE}/products/variants/{variant_id}.json").status_code == 404
        [location] = client.get(f"{BASE}/locations/list.json").json()["locations"]
        answer = client.post(f"{BASE}/inventory_levels/set.json",
                             json={"inventory_item_id": item, "location_id": location["id"], "available": 1})
        assert answer.status_code == 404
        assert client.post("/_sim/inventory",
                           json={"levels": [{"variant_id": variant_id, "available": 1}]}).status_code == 400
        with pytest.raises(ValueError):
            store.set_inventory(item, 1)
        with pytest.raises(ValueError):
            store.set_available(variant_id, 1)
        assert client.get("/_sim/inventory").json() == {"levels": {}, "sets": []}
        assert [h["x-shopline-topic"] for h, _ in receiver.requests] == ["products/delete"]


def test_the_webhook_target_keeps_its_secret_out_of_repr():
    target = WebhookTarget("http://127.0.0.1:1/hook", "very-secret-value")
    assert "very-secret-value" not in repr(target) and "http://127.0.0.1:1/hook" in repr(target)


def test_the_cli_takes_the_app_secret_from_the_environment(monkeypatch):
    import argparse

    from simulators.shopline import add_arguments

    monkeypatch.setenv("SHOPLINE_APP_SECRET", "from-the-env-5e1")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args([]).app_secret == "from-the-env-5e1"
    assert parser.parse_args(["--app-secret", "override"]).app_secret == "override"
    assert "SHOPLINE_APP_SECRET" in parser.format_help()
