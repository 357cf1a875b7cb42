"""SERP supplier simulator, exercised over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import orjson
import pytest

from simulators.asgi_server import ServedApp
from simulators.serp_supplier import INVALID_KINDS, SerpCatalog, SerpFaults, create_app

KEY = "test-key"
HEADERS = {"X-Api-Key": KEY}
# Later than every base updatedAt of a catalog below 1,000,000 products.
AFTER_BASE = "2025-02-01T00:00:00Z"


@contextmanager
def serve(catalog: SerpCatalog, faults: SerpFaults | None = None) -> Iterator[httpx.Client]:
    with ServedApp(create_app(catalog, faults, api_key=KEY)) as served:
        with httpx.Client(base_url=served.url, headers=HEADERS, timeout=10) as client:
            yield client


def read_all(client: httpx.Client, page_size: int = 100, **params: str) -> tuple[list[dict], list[dict]]:
    """All products over every page, plus the page envelopes."""
    products: list[dict] = []
    pages: list[dict] = []
    page = 1
    while True:
        r = client.get("/v1/products", params={"page": page, "pageSize": page_size, **params})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json")
        body = r.json()
        pages.append(body)
        products.extend(body["products"])
        if not body["hasNextPage"]:
            return products, pages
        page += 1


@pytest.fixture(scope="module")
def served_1050() -> Iterator[tuple[SerpCatalog, httpx.Client]]:
    catalog = SerpCatalog(1050, seed=7)
    with serve(catalog) as client:
        yield catalog, client


def test_paging_serves_every_id_once_in_order(served_1050) -> None:
    _, client = served_1050
    products, pages = read_all(client, page_size=100)
    ids = [p["id"] for p in products]
    assert ids == [f"SERP-{i:07d}" for i in range(1050)]
    assert len(pages) == 11
    assert all(p["totalCount"] == 1050 for p in pages)
    assert [p["hasNextPage"] for p in pages] == [True] * 10 + [False]
    assert len(pages[-1]["products"]) == 50
    assert list(pages[0]) == ["products", "page", "pageSize", "totalCount", "hasNextPage"]
    keys = ("createdAt", "id")
    assert [tuple(p[k] for k in keys) for p in products] == sorted(tuple(p[k] for k in keys) for p in products)
    first = products[0]
    assert first["prices"] and first["prices"][0]["priceType"] == "Base"
    assert first["images"][0]["isPrimary"] is True
    assert first["status"] in {"Published", "Draft", "Archived"}


@pytest.mark.parametrize(
    "params, field",
    [
        ({"pageSize": 501}, "pageSize"),
        ({"pageSize": 0}, "pageSize"),
        ({"page": 0}, "page"),
        ({"page": "x"}, "page"),
        ({"updatedSince": "yesterday"}, "updatedSince"),
        ({"updatedSince": "2026-02-07T02:00:00"}, "updatedSince"),
    ],
)
def test_bad_params_answer_400(served_1050, params, field) -> None:
    _, client = served_1050
    r = client.get("/v1/products", params=params)
    assert r.status_code == 400
    assert r.json()["field"] == field


def test_api_key_required(served_1050) -> None:
    _, client = served_1050
    for headers in ({"X-Api-Key": "wrong"}, {}):
        r = httpx.get(f"{client.base_url}/v1/products", headers=headers)
        assert r.status_code == 401 and r.json() == {"error": "unauthorized"}
        r = httpx.get(f"{client.base_url}/v1/products/SERP-0000001", headers=headers)
        assert r.status_code == 401


def test_get_by_id(served_1050) -> None:
    _, client = served_1050
    r = client.get("/v1/products/SERP-0000042")
    assert r.status_code == 200 and r.json()["id"] == "SERP-0000042"
    for missing in ("SERP-0001050", "SERP-9999999", "nope"):
        r = client.get(f"/v1/products/{missing}")
        assert r.status_code == 404 and r.json() == {"error": "not_found"}


def test_updated_since_change_and_delete() -> None:
    catalog = SerpCatalog(1050, seed=3)
    with serve(catalog) as client:
        assert read_all(client, updatedSince=AFTER_BASE)[0] == []
        # Base updatedAt of product i is 2025-01-02T00:00:00Z + i s; strictly-later filter.
        tail, _ = read_all(client, updatedSince="2025-01-02T00:17:00Z")
        assert [p["id"] for p in tail][:1] == ["SERP-0001021"] and len(tail) == 29

        changed = catalog.change(5)
        assert len(changed) == 5 and changed == sorted(changed)
        before = {pid: catalog.product(int(pid[5:])) for pid in changed}
        got, pages = read_all(client, updatedSince=AFTER_BASE)
        assert [p["id"] for p in got] == changed
        assert pages[0]["totalCount"] == 5
        for p in got:
            assert p["updatedAt"] > AFTER_BASE
            assert p == before[p["id"]]
        # Offset form of the same instant.
        got_offset, _ = read_all(client, updatedSince="2025-02-01T08:00:00+08:00")
        assert [p["id"] for p in got_offset] == changed

        # Second change: strictly later stamp, different products, previous watermark finds only them.
        watermark = max(p["updatedAt"] for p in got)
        again = catalog.change(3)
        assert not set(again) & set(changed)
        assert [p["id"] for p in read_all(client, updatedSince=watermark)[0]] == again

        deleted = catalog.delete(changed[:2])
        assert deleted == changed[:2]
        got, _ = read_all(client, updatedSince=AFTER_BASE)
        assert [p["id"] for p in got] == sorted(changed[2:] + again)
        for pid in deleted:
            assert client.get(f"/v1/products/{pid}").status_code == 404
        everything, pages = read_all(client, page_size=500)
        assert pages[0]["totalCount"] == 1048
        assert not set(deleted) & {p["id"] for p in everything}
        assert len({p["id"] for p in everything}) == 1048


def test_admin_routes_and_stats() -> None:
    catalog = SerpCatalog(200, seed=1)
    faults = SerpFaults(error_rate=1.0, truncate_rate=1.0)
    with serve(catalog, faults) as client:
        anon = httpx.Client(base_url=str(client.base_url))
        r = anon.post("/_sim/change", json={"count": 4})
        assert r.status_code == 200 and len(r.json()["changed"]) == 4
        r = anon.post("/_sim/change", json={"ids": ["SERP-0000010"]})
        assert r.json() == {"changed": ["SERP-0000010"]}
        r = anon.post("/_sim/delete", json={"ids": ["SERP-0000010", "SERP-0000011"]})
        assert r.json() == {"deleted": ["SERP-0000010", "SERP-0000011"]}
        assert anon.post("/_sim/delete", json={"count": 3}).status_code == 200
        assert anon.post("/_sim/change", json={"count": "x"}).status_code == 400
        assert client.get("/v1/products").status_code >= 500
        stats = anon.get("/_sim/stats").json()
        assert stats["product_count"] == 200
        assert stats["deleted_count"] == 5
        assert stats["changed_count"] == 5
        assert stats["requests"]["sim"]["200"] == 4
        assert stats["requests"]["sim"]["400"] == 1
        assert sum(stats["requests"]["list"].values()) == 1
        anon.close()


def test_determinism_by_seed() -> None:
    bodies = []
    for seed in (11, 11, 12):
        with serve(SerpCatalog(300, seed=seed)) as client:
            bodies.append(client.get("/v1/products", params={"pageSize": 300}).content)
    assert bodies[0] == bodies[1]
    assert bodies[0] != bodies[2]


def test_error_faults() -> None:
    with serve(SerpCatalog(100), SerpFaults(error_rate=1.0, fault_seed=5)) as client:
        statuses = [client.get("/v1/products").status_code for _ in range(12)]
        statuses += [client.get("/v1/products/SERP-0000001").status_code for _ in range(3)]
        assert all(s in (500, 502, 503) for s in statuses)
        assert len(set(statuses)) > 1


def test_error_faults_are_deterministic() -> None:
    runs = []
    for _ in range(2):
        with serve(SerpCatalog(100), SerpFaults(error_rate=0.5, fault_seed=9)) as client:
            runs.append([client.get("/v1/products").status_code for _ in range(20)])
    assert runs[0] == runs[1]
    assert 200 in runs[0] and any(s >= 500 for s in runs[0])


def test_rate_limit_fault() -> None:
    faults = SerpFaults(rate_limit_rate=1.0, retry_after_seconds=7)
    with serve(SerpCatalog(100), faults) as client:
        r = client.get("/v1/products")
        assert r.status_code == 429 and r.headers["Retry-After"] == "7"


def test_truncate_fault() -> None:
    with serve(SerpCatalog(100), SerpFaults(truncate_rate=1.0)) as client:
        r = client.get("/v1/products")
        assert r.status_code == 200
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(r.content)


def test_slow_fault() -> None:
    with serve(SerpCatalog(100), SerpFaults(slow_rate=1.0, slow_seconds=0.2)) as client:
        r = client.get("/v1/products")
        assert r.status_code == 200 and r.elapsed.total_seconds() >= 0.2


def test_invalid_products() -> None:
    with serve(SerpCatalog(10, seed=2), SerpFaults(invalid_rate=1.0)) as client:
        products = client.get("/v1/products").json()["products"]
    assert len(products) == 10
    seen = set()
    ids = [p["id"] for p in products]
    for p in products:
        if "name" not in p:
            seen.add("missing_name")
        if p["prices"][0]["amount"] == "-10.00":
            seen.add("negative_price")
        if p["prices"][0]["currency"] == "XX1":
            seen.add("bad_currency")
        if p["status"] == "Live":
            seen.add("bad_status")
    if len(set(ids)) < len(ids):
        seen.add("duplicate_id")
    assert seen == set(INVALID_KINDS)


def test_duplicate_id_get_returns_lower_index() -> None:
    catalog = SerpCatalog(10, seed=2)
    with serve(catalog, SerpFaults(invalid_rate=1.0)) as client:
        listing = client.get("/v1/products").json()["products"]
        dup_id = listing[4]["id"]
        assert listing[3]["id"] == dup_id == "SERP-0000003"
        assert client.get(f"/v1/products/{dup_id}").json() == listing[3]


def test_sim_routes_never_faulted() -> None:
    faults = SerpFaults(error_rate=0.5, rate_limit_rate=0.5, truncate_rate=1.0)
    with serve(SerpCatalog(100), faults) as client:
        for _ in range(5):
            assert client.get("/_sim/stats").status_code == 200
            r = client.post("/_sim/change", json={"count": 1})
            assert r.status_code == 200 and len(r.json()["changed"]) == 1


def test_million_product_catalog() -> None:
    with serve(SerpCatalog(1_000_000, seed=42)) as client:
        first = client.get("/v1/products", params={"page": 1, "pageSize": 500}).json()
        assert first["totalCount"] == 1_000_000 and first["hasNextPage"] is True
        assert first["products"][0]["id"] == "SERP-0000000"
        last = client.get("/v1/products", params={"page": 2000, "pageSize": 500}).json()
        assert last["hasNextPage"] is False
        assert last["products"][-1]["id"] == "SERP-0999999"
        assert client.get("/v1/products/SERP-0999999").status_code == 200
