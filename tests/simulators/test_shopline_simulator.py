"""Shopline simulator: auth, REST Link paging, GraphQL paging, data, faults, admin and CLI over real HTTP."""

from __future__ import annotations

import base64
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from simulators.asgi_server import ServedApp
from simulators.shopline import (
    API_VERSION,
    DEFAULT_PORT,
    ShoplineFaults,
    ShoplineStore,
    create_app,
)

REPO = Path(__file__).resolve().parents[2]
TOKEN = "tok-123"
BASE = f"/admin/openapi/{API_VERSION}"
PRODUCTS = f"{BASE}/products/products.json"
ORDERS = f"{BASE}/orders/orders.json"
GRAPHQL = f"{BASE}/graphql.json"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LINK_RE = re.compile(r'^<([^>]+)>; rel="next"$')

GQL = """query Products($first: Int!, $after: String) {
  products(first: $first, after: $after) {
    edges { cursor node { id title descriptionHtml status updatedAt
      variants(first: 10) { edges { node { id sku price inventoryQuantity } } } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


@contextmanager
def served(store: ShoplineStore | None = None, **kwargs) -> Iterator[tuple[httpx.Client, object]]:
    app = create_app(store or ShoplineStore(products=230, orders=60, seed=7), access_token=TOKEN, **kwargs)
    with ServedApp(app) as srv, httpx.Client(base_url=srv.url, timeout=10, headers=AUTH) as client:
        yield client, app


def next_link(r: httpx.Response) -> str | None:
    link = r.headers.get("link")
    if link is None:
        return None
    m = LINK_RE.match(link)
    assert m, link
    return m.group(1)


def walk(client: httpx.Client, url: str, key: str) -> list[list[dict]]:
    pages = []
    while url:
        r = client.get(url)
        assert r.status_code == 200, r.text
        pages.append(r.json()[key])
        url = next_link(r)
    return pages


def test_auth_required_on_every_api_call() -> None:
    with served() as (client, _):
        for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            for method, path in (("GET", PRODUCTS), ("GET", ORDERS), ("POST", GRAPHQL)):
                r = client.request(method, path, headers=headers, json={"query": GQL})
                assert r.status_code == 401 and "errors" in r.json()
        assert client.get(PRODUCTS, params={"limit": 1}).status_code == 200
        # Any version string is accepted.
        assert client.get("/admin/openapi/v20250601/products/products.json").status_code == 200
        # Admin routes need no token.
        assert httpx.get(f"{client.base_url}/_sim/stats").status_code == 200


def test_rest_products_link_paging_covers_all_once() -> None:
    with served() as (client, _):
        first = client.get(PRODUCTS, params={"limit": 100})
        link = next_link(first)
        assert link and link.startswith(f"{client.base_url}{PRODUCTS}?limit=100&page_info=")
        pages = walk(client, f"{PRODUCTS}?limit=100", "products")
        assert [len(p) for p in pages] == [100, 100, 30]
        ids = [p["id"] for page in pages for p in page]
        assert len(set(ids)) == 230 and all(i.isdigit() for i in ids)
        assert [int(i) for i in ids] == sorted(int(i) for i in ids)
        p = pages[0][0]
        assert p["status"] in ("active", "draft", "archived")
        assert p["updated_at"] and p["created_at"] and p["images"][0]["src"].startswith("https://")
        v = p["variants"][0]
        assert v["id"].isdigit() and re.fullmatch(r"SL-\d{7}-\d", v["sku"])
        assert re.fullmatch(r"\d+\.\d\d", v["price"]) and v["currency"] == "TWD"
        assert isinstance(v["inventory_quantity"], int)
        # Default limit 50.
        assert len(client.get(PRODUCTS).json()["products"]) == 50


def test_since_id_and_page_info_overrides_it() -> None:
    with served() as (client, _):
        all_ids = [p["id"] for p in client.get(PRODUCTS, params={"limit": 1000}).json()["products"]]
        assert len(all_ids) == 230 and "link" not in client.get(PRODUCTS, params={"limit": 1000}).headers
        since = all_ids[99]
        r = client.get(PRODUCTS, params={"limit": 50, "since_id": since})
        got = [p["id"] for p in r.json()["products"]]
        assert got == all_ids[100:150]
        # Between two ids: starts at the next larger one.
        between = str(int(all_ids[9]) + 1)
        assert client.get(PRODUCTS, params={"since_id": between, "limit": 2}).json()["products"][0]["id"] == all_ids[10]
        assert client.get(PRODUCTS, params={"since_id": all_ids[-1]}).json()["products"] == []
        # page_info ignores since_id.
        page_info = httpx.URL(next_link(client.get(PRODUCTS, params={"limit": 10}))).params["page_info"]
        r = client.get(PRODUCTS, params={"limit": 10, "page_info": page_info, "since_id": all_ids[200]})
        assert [p["id"] for p in r.json()["products"]] == all_ids[10:20]


@pytest.mark.parametrize("params", [
    {"limit": 1001}, {"limit": 0}, {"limit": "abc"}, {"since_id": "x"},
    {"page_info": "garbage!!"}, {"page_info": base64.urlsafe_b64encode(b"products:123:10").decode()},
    {"page_info": base64.urlsafe_b64encode(b"hello").decode()},
])
def test_bad_rest_params_are_400(params: dict) -> None:
    with served() as (client, _):
        r = client.get(PRODUCTS, params=params)
        assert r.status_code == 400 and "errors" in r.json()


def test_orders_paging_and_repeated_customers() -> None:
    with served() as (client, _):
        pages = walk(client, f"{ORDERS}?limit=25", "orders")
        assert [len(p) for p in pages] == [25, 25, 10]
        orders = [o for page in pages for o in page]
        assert len({o["id"] for o in orders}) == 60 and all(o["id"].isdigit() for o in orders)
        assert orders[0]["name"] == "#1001"
        emails = [o["customer"]["email"] for o in orders]
        assert len(set(emails)) < len(emails)
        for o in orders:
            assert o["currency"] == "TWD" and o["financial_status"] in ("paid", "pending", "refunded")
            total = sum(li["quantity"] * float(li["price"]) for li in o["line_items"])
            assert float(o["total_price"]) == pytest.approx(total)
            assert o["line_items"] and all(li["sku"].startswith("SL-") for li in o["line_items"])
        # A products page_info is not an orders cursor.
        info = httpx.URL(next_link(client.get(PRODUCTS, params={"limit": 5}))).params["page_info"]
        assert client.get(ORDERS, params={"page_info": info}).status_code == 400


def test_graphql_paging_covers_all_with_gids() -> None:
    with served() as (client, _):
        rest_ids = [p["id"] for p in client.get(PRODUCTS, params={"limit": 1000}).json()["products"]]
        seen, after, pages = [], None, 0
        while True:
            r = client.post(GRAPHQL, json={"query": GQL, "variables": {"first": 100, "after": after}})
            assert r.status_code == 200
            conn = r.json()["data"]["products"]
            pages += 1
            for edge in conn["edges"]:
                node = edge["node"]
                assert node["id"].startswith("gid://shopline/Product/")
                assert node["status"] in ("ACTIVE", "DRAFT", "ARCHIVED")
                assert node["variants"]["edges"][0]["node"]["id"].startswith("gid://shopline/ProductVariant/")
                seen.append(node["id"].rsplit("/", 1)[1])
            if not conn["pageInfo"]["hasNextPage"]:
                break
            after = conn["pageInfo"]["endCursor"]
        assert pages == 3 and seen == rest_ids
        # Literal arguments work too (and an operation named like the field does not confuse it).
        q = 'query products($n: Int) { products(first: 2, after: "%s") { edges { node { id } } } }' % after
        nodes = client.post(GRAPHQL, json={"query": q}).json()["data"]["products"]["edges"]
        assert [e["node"]["id"].rsplit("/", 1)[1] for e in nodes] == rest_ids[200:202]


def test_graphql_errors() -> None:
    with served() as (client, _):
        for body in (
            {"query": GQL, "variables": {"first": 251}},
            {"query": "{ products(first: 300) { edges { node { id } } } }"},
            {"query": "{ orders(first: 10) { edges { node { id } } } }"},
            {"query": GQL, "variables": {"first": 10, "after": "not-a-cursor"}},
        ):
            r = client.post(GRAPHQL, json=body)
            assert r.status_code == 200 and r.json()["errors"][0]["message"] and "data" not in r.json()
        ok = client.post(GRAPHQL, json={"query": GQL, "variables": {"first": 250}}).json()
        assert len(ok["data"]["products"]["edges"]) == 230
        assert client.get("/_sim/stats").json()["graphql_errors"] == 4


def test_rate_limit_fault_and_stats() -> None:
    with served(faults=ShoplineFaults(rate_limit_rate=1.0, retry_after_seconds=3)) as (client, _):
        r = client.get(PRODUCTS)
        assert r.status_code == 429 and r.headers["retry-after"] == "3"
        assert client.post(GRAPHQL, json={"query": GQL}).status_code == 429
        stats = client.get("/_sim/stats").json()
        assert stats["calls"] == {"rest_products": 1, "rest_orders": 0, "graphql": 1}
        assert stats["statuses"] == {"429": 2} and stats["faults"]["rate_limit"] == 2
        # Admin routes are never faulted.
        assert client.post("/_sim/change", json={"count": 1}).status_code == 200


def test_change_visible_in_updated_at_and_price() -> None:
    store = ShoplineStore(products=20, orders=5, seed=3)
    with served(store) as (client, _):
        before = {p["id"]: p for p in client.get(PRODUCTS, params={"limit": 20}).json()["products"]}
        changed = client.post("/_sim/change", json={"count": 3}).json()["changed"]
        changed += store.change(2)
        assert len(changed) == 5
        after = {p["id"]: p for p in client.get(PRODUCTS, params={"limit": 20}).json()["products"]}
        for pid in before:
            if pid in changed:
                assert after[pid]["updated_at"] > before[pid]["updated_at"]
                assert after[pid]["variants"][0]["price"] != before[pid]["variants"][0]["price"]
            else:
                assert after[pid] == before[pid]
        assert client.get("/_sim/stats").json()["changed_count"] == len(set(changed))
        assert client.post("/_sim/change", json={"count": -1}).status_code == 400
    # Determinism: same seed, same data.
    a, b = ShoplineStore(5, 5, seed=9), ShoplineStore(5, 5, seed=9)
    assert [a.product(i) for i in range(5)] == [b.product(i) for i in range(5)]
    assert [a.order(i) for i in range(5)] == [b.order(i) for i in range(5)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_module_serves() -> None:
    assert DEFAULT_PORT == 8131 and API_VERSION == "v20230901"
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.shopline", "--port", str(port), "--products", "5", "--orders", "4"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/_sim/stats", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "CLI simulator did not start"
                time.sleep(0.05)
        assert r.status_code == 200 and r.json()["products"] == 5
        body = httpx.get(f"http://127.0.0.1:{port}{PRODUCTS}",
                         headers={"Authorization": "Bearer shopline-local-token"}).json()
        assert len(body["products"]) == 5
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}" in out
