"""Regional ProductsAPI simulator, exercised over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulators.asgi_server import ServedApp
from simulators.region_products import (
    DEFAULT_PORTS,
    LOOKUP_PATH,
    REGION_DEFAULTS,
    SYNC_PATH,
    RegionFaults,
    RegionSpec,
    RegionStore,
    create_app,
)

REPO = Path(__file__).resolve().parents[2]
KEYS = {code: f"test-{code.lower()}-key" for code in REGION_DEFAULTS}
SYNC_TS = "2026-02-07T02:00:00Z"
PRICES = {
    "TW": [{"amount": "1250", "currency": "TWD", "priceType": "Base"}, {"amount": "39.68", "currency": "USD", "priceType": "Base"}],
    "US": [{"amount": "39.68", "currency": "USD", "priceType": "Base"}],
    "JP": [{"amount": "5875", "currency": "JPY", "priceType": "Base"}, {"amount": "39.68", "currency": "USD", "priceType": "Base"}],
}


def dto(region: str, pid: str, **over: Any) -> dict[str, Any]:
    """A valid RegionProductDto for `region`."""
    spec = REGION_DEFAULTS[region]
    product = {
        "globalHubProductId": pid,
        "externalProductId": f"SERP-{pid}",
        "supplierId": "sup-1",
        "supplierCode": "SERP",
        "name": {lang: f"{pid} name {lang}" for lang in spec.languages},
        "description": {lang: f"<p>{pid} {lang}</p>" for lang in spec.languages},
        "category": "Tours & Activities > Cultural",
        "productType": "Tour",
        "prices": [dict(p) for p in PRICES[region]],
        "images": [{"url": f"https://img.example/{pid}/1.jpg", "isPrimary": True, "order": 1}],
        "availableSeats": 12,
        "status": "Published",
        "createdAt": "2025-01-01T00:00:00Z",
        "updatedAt": "2025-01-02T00:00:00.123Z",
        "metadata": {"SourceSystem": "GlobalHub", "OriginalSupplier": "SERP", "SyncedAt": SYNC_TS},
    }
    product.update(over)
    return product


def payload(products: list[dict]) -> dict[str, Any]:
    return {"products": products, "syncTimestamp": SYNC_TS, "sourceRegion": "Central"}


class Region:
    """One served region: its app, an authorised client and an admin client."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.app = create_app(REGION_DEFAULTS[code], api_key=KEYS[code])
        self.served = ServedApp(self.app).start()
        headers = {"X-Api-Key": KEYS[code], "X-Source": "GlobalHub"}
        self.api = httpx.Client(base_url=self.served.url, headers=headers, timeout=10)
        self.admin = httpx.Client(base_url=self.served.url, timeout=10)

    @property
    def store(self) -> RegionStore:
        return self.app.state.store

    @property
    def faults(self) -> RegionFaults:
        return self.app.state.faults

    def sync(self, products: list[dict], **kw: Any) -> httpx.Response:
        return self.api.post(SYNC_PATH, json=payload(products), **kw)

    def lookup(self, ids: list[str]) -> httpx.Response:
        return self.api.post(LOOKUP_PATH, json={"ids": ids})

    def stats(self) -> dict[str, Any]:
        return self.admin.get("/_sim/stats").json()

    def reset(self) -> None:
        self.app.state.faults = RegionFaults()
        assert self.admin.post("/_sim/reset").status_code == 200

    def close(self) -> None:
        self.api.close()
        self.admin.close()
        self.served.stop()


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, Region]]:
    regions = {code: Region(code) for code in REGION_DEFAULTS}
    yield regions
    for r in regions.values():
        r.close()


@pytest.fixture
def tw(servers) -> Region:
    servers["TW"].reset()
    return servers["TW"]


@pytest.fixture
def us(servers) -> Region:
    servers["US"].reset()
    return servers["US"]


@pytest.fixture
def jp(servers) -> Region:
    servers["JP"].reset()
    return servers["JP"]


def test_region_defaults() -> None:
    assert REGION_DEFAULTS["TW"] == RegionSpec("TW", ("zh-TW", "en-US"), ("TWD", "USD"))
    assert REGION_DEFAULTS["US"] == RegionSpec("US", ("en-US", "zh-TW"), ("USD",))
    assert REGION_DEFAULTS["JP"] == RegionSpec("JP", ("ja-JP", "en-US", "zh-TW"), ("JPY", "USD"))
    assert DEFAULT_PORTS == {"TW": 8111, "US": 8112, "JP": 8113}


def test_auth_required(tw: Region) -> None:
    body = payload([dto("TW", "P1")])
    url = tw.served.url
    cases = [
        {},
        {"X-Source": "GlobalHub"},
        {"X-Api-Key": "wrong", "X-Source": "GlobalHub"},
        {"X-Api-Key": KEYS["TW"]},
        {"X-Api-Key": KEYS["TW"], "X-Source": "Other"},
        {"X-Api-Key": KEYS["US"], "X-Source": "GlobalHub"},
    ]
    for headers in cases:
        r = httpx.post(url + SYNC_PATH, json=body, headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["message"]
    assert httpx.post(url + LOOKUP_PATH, json={"ids": ["P1"]}).status_code == 401
    assert len(tw.store) == 0
    stats = tw.stats()
    assert stats["calls"] == {"sync": 6, "lookup": 1, "other": 0}
    assert stats["statuses"] == {"401": 7}


def test_create_as_draft_then_update_replaces(tw: Region) -> None:
    r = tw.sync([dto("TW", "P1"), dto("TW", "P2", status="Archived")])
    assert r.status_code == 200
    body = r.json()
    assert body["message"] == "Sync completed successfully"
    assert (body["processedCount"], body["successCount"], body["failedCount"]) == (2, 2, 0)
    assert [(d["globalHubProductId"], d["status"]) for d in body["details"]] == [("P1", "created"), ("P2", "created")]
    assert tw.store.get("P1")["status"] == "Draft"
    assert tw.store.get("P2")["status"] == "Draft"

    changed = dto("TW", "P1", status="Published", availableSeats=None, name={"zh-TW": "新名稱"})
    r = tw.sync([changed, dto("TW", "P3")])
    assert [(d["globalHubProductId"], d["status"]) for d in r.json()["details"]] == [("P1", "updated"), ("P3", "created")]
    assert tw.store.get("P1") == changed  # replaced as received, status kept
    assert tw.store.receive_counts() == {"P1": 2, "P2": 1, "P3": 1}
    assert len(tw.store) == 3
    snap = tw.admin.get("/_sim/products").json()
    assert snap["receiveCounts"] == {"P1": 2, "P2": 1, "P3": 1}
    assert snap["products"]["P1"] == changed
    stats = tw.stats()
    assert stats["products"] == 3 and stats["receives"] == 4
    assert stats["calls"]["sync"] == 2 and stats["statuses"] == {"200": 2}


def test_lookup_returns_region_copy_after_edit(jp: Region) -> None:
    assert jp.sync([dto("JP", "A"), dto("JP", "B")]).status_code == 200
    edited = jp.store.edit("A", name={"ja-JP": "地域の名前"}, status="Published", updated_at="2026-03-01T00:00:00Z")
    assert edited["name"]["ja-JP"] == "地域の名前" and edited["name"]["en-US"] == "A name en-US"
    r = jp.lookup(["B", "nope", "A"])
    assert r.status_code == 200
    products = r.json()["products"]
    assert [p["globalHubProductId"] for p in products] == ["B", "A"]
    assert products[1] == edited
    assert products[1]["status"] == "Published" and products[1]["updatedAt"] == "2026-03-01T00:00:00Z"
    assert products[0]["status"] == "Draft"

    # Admin edit route; default updatedAt is now.
    r = jp.admin.post("/_sim/edit", json={"id": "B", "description": {"zh-TW": "描述"}})
    assert r.status_code == 200
    assert r.json()["description"]["zh-TW"] == "描述" and r.json()["updatedAt"].endswith("Z")
    assert r.json()["updatedAt"] > "2026-01-01"
    assert jp.admin.post("/_sim/edit", json={"id": "zzz", "status": "Archived"}).status_code == 404
    with pytest.raises(KeyError):
        jp.store.edit("zzz", status="Archived")
    assert jp.store.receive_counts() == {"A": 1, "B": 1}


def test_payload_limits_answer_400(tw: Region) -> None:
    r = tw.sync([dto("TW", f"P{i}") for i in range(51)])
    assert r.status_code == 400
    assert r.json()["message"] == "Sync failed" and "products" in r.json()["error"]
    assert tw.sync([]).status_code == 400
    bad_bodies = [
        b"{not json",
        b"[]",
        b'{"products": [], "syncTimestamp": "2026-02-07T02:00:00Z", "sourceRegion": "Central"}',
        b'{"syncTimestamp": "2026-02-07T02:00:00Z", "sourceRegion": "Central"}',
        b'{"products": {}, "syncTimestamp": "2026-02-07T02:00:00Z", "sourceRegion": "Central"}',
        b'{"products": [1], "syncTimestamp": "2026-02-07T02:00:00Z", "sourceRegion": "Central"}',
    ]
    for raw in bad_bodies:
        r = tw.api.post(SYNC_PATH, content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, raw
        assert r.json()["message"] == "Sync failed" and r.json()["error"]
    for key, value in (("syncTimestamp", "yesterday"), ("syncTimestamp", None), ("sourceRegion", 3)):
        body = payload([dto("TW", "P1")])
        body[key] = value
        r = tw.api.post(SYNC_PATH, json=body)
        assert r.status_code == 400 and key in r.json()["error"]
    assert tw.lookup([f"id{i}" for i in range(501)]).status_code == 400
    assert tw.lookup([1]).status_code == 400
    assert tw.api.post(LOOKUP_PATH, json={"id": []}).status_code == 400
    assert tw.lookup([f"id{i}" for i in range(500)]).json() == {"products": []}
    assert len(tw.store) == 0


def test_bad_product_id_rejects_whole_call(tw: Region) -> None:
    tw.faults.bad_product_ids = frozenset({"P2"})
    r = tw.sync([dto("TW", "P1"), dto("TW", "P2"), dto("TW", "P3")])
    assert r.status_code == 400
    assert r.json()["message"] == "Sync failed" and "P2" in r.json()["error"]
    assert len(tw.store) == 0 and tw.store.receive_counts() == {}
    assert tw.sync([dto("TW", "P1")]).status_code == 200
    assert tw.stats()["faults_injected"]["bad_product"] == 1


def test_failing_product_ids_fail_per_product(us: Region) -> None:
    us.faults.failing_product_ids = frozenset({"U2"})
    r = us.sync([dto("US", "U1"), dto("US", "U2"), dto("US", "U3")])
    assert r.status_code == 200
    body = r.json()
    assert (body["processedCount"], body["successCount"], body["failedCount"]) == (3, 2, 1)
    assert body["details"][1] == {"globalHubProductId": "U2", "status": "failed", "error": "simulated failure"}
    assert [d["status"] for d in body["details"]] == ["created", "failed", "created"]
    assert us.store.get("U2") is None and us.store.get("U1") is not None
    assert us.store.receive_counts() == {"U1": 1, "U3": 1}


def _without(d: dict, key: str) -> dict:
    return {k: v for k, v in d.items() if k != key}


INVALID = [
    ("TW", {"prices": [{"amount": "1250", "currency": "JPY", "priceType": "Base"}]}, "prices[0].currency"),
    ("US", {"prices": [{"amount": "40", "currency": "USD", "priceType": "Base"}]}, "prices[0].amount"),
    ("US", {"prices": [{"amount": "-1.00", "currency": "USD", "priceType": "Base"}]}, "prices[0].amount"),
    ("JP", {"prices": [{"amount": "5875.00", "currency": "JPY", "priceType": "Base"}]}, "prices[0].amount"),
    ("TW", {"prices": [{"amount": 1250, "currency": "TWD", "priceType": "Base"}]}, "prices[0].amount"),
    ("JP", {"name": {"en-US": "Only English"}}, "name.ja-JP"),
    ("JP", {"description": {"ja-JP": "  ", "en-US": "x"}}, "description.ja-JP"),
    ("US", {"name": {"en-US": "x", "ja-JP": "y"}}, "name"),
    ("TW", {"status": "Live"}, "status"),
    ("TW", {"availableSeats": "3"}, "availableSeats"),
    ("TW", {"availableSeats": True}, "availableSeats"),
    ("TW", {"createdAt": "2025-01-01T00:00:00"}, "createdAt"),
    ("TW", {"updatedAt": "2025-01-01T08:00:00+08:00"}, "updatedAt"),
    ("TW", {"metadata": {"SourceSystem": "SERP"}}, "metadata.SourceSystem"),
    ("TW", {"images": [{"url": "u", "isPrimary": "yes", "order": 1}]}, "images[0].isPrimary"),
    ("TW", {"supplierCode": None}, "supplierCode"),
]


@pytest.mark.parametrize("region, override, field", INVALID, ids=[f"{r}-{f}" for r, _, f in INVALID])
def test_per_product_validation(servers, region: str, override: dict, field: str) -> None:
    srv = servers[region]
    srv.reset()
    r = srv.sync([dto(region, "OK1"), dto(region, "BAD", **override)])
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["successCount"], body["failedCount"]) == (1, 1)
    failed = body["details"][1]
    assert failed["globalHubProductId"] == "BAD" and failed["status"] == "failed"
    assert failed["error"].startswith(field + ":"), failed["error"]
    assert srv.store.get("BAD") is None and srv.store.get("OK1") is not None


def test_missing_field_fails_product(tw: Region) -> None:
    for key in ("externalProductId", "name", "prices", "images", "availableSeats", "metadata", "updatedAt"):
        r = tw.sync([_without(dto("TW", "M"), key)])
        detail = r.json()["details"][0]
        assert detail["status"] == "failed" and detail["error"].startswith(key), (key, detail)
    r = tw.sync([_without(dto("TW", "M"), "globalHubProductId")])
    assert r.json()["details"][0]["globalHubProductId"] is None
    assert len(tw.store) == 0


def test_down_answers_503_but_admin_works(us: Region) -> None:
    us.faults.down = True
    assert us.sync([dto("US", "U1")]).status_code == 503
    assert us.lookup(["U1"]).status_code == 503
    assert httpx.post(us.served.url + SYNC_PATH, json={}).status_code == 503  # down before auth
    stats = us.stats()
    assert stats["faults_injected"]["down"] == 3 and stats["statuses"] == {"503": 3}
    assert us.admin.get("/_sim/products").status_code == 200
    r = us.admin.post("/_sim/faults", json={"down": False})
    assert r.status_code == 200 and r.json()["down"] is False
    assert us.sync([dto("US", "U1")]).status_code == 200


def test_error_and_rate_limit_faults(tw: Region) -> None:
    tw.faults.error_rate = 1.0
    statuses = [tw.sync([dto("TW", "P1")]).status_code for _ in range(12)]
    assert all(s in (500, 502, 503) for s in statuses) and len(set(statuses)) > 1
    assert len(tw.store) == 0
    tw.faults.error_rate = 0.0
    tw.faults.rate_limit_rate = 1.0
    tw.faults.retry_after_seconds = 3
    r = tw.lookup(["P1"])
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    injected = tw.stats()["faults_injected"]
    assert injected["error"] == 12 and injected["rate_limit"] == 1
    # Auth is checked before random faults.
    assert httpx.post(tw.served.url + LOOKUP_PATH, json={"ids": []}).status_code == 401


def test_faults_are_deterministic_by_seed(tw: Region) -> None:
    runs = []
    for _ in range(2):
        tw.reset()
        tw.admin.post("/_sim/faults", json={"error_rate": 0.5, "fault_seed": 11})
        runs.append([tw.lookup([]).status_code for _ in range(16)])
    assert runs[0] == runs[1]
    assert 200 in runs[0] and any(s >= 500 for s in runs[0])


def test_slow_fault(jp: Region) -> None:
    jp.faults.slow_rate, jp.faults.slow_seconds = 1.0, 0.2
    started = time.monotonic()
    assert jp.lookup([]).status_code == 200
    assert time.monotonic() - started >= 0.2
    assert jp.stats()["faults_injected"]["slow"] == 1


def test_admin_faults_route(us: Region) -> None:
    r = us.admin.post(
        "/_sim/faults",
        json={"bad_product_ids": ["X1", "X2"], "failing_product_ids": ["F"], "rate_limit_rate": 0.25, "fault_seed": 3},
    )
    assert r.status_code == 200
    assert r.json()["bad_product_ids"] == ["X1", "X2"] and r.json()["rate_limit_rate"] == 0.25
    assert us.faults.bad_product_ids == frozenset({"X1", "X2"}) and us.faults.fault_seed == 3
    assert us.admin.post("/_sim/faults", json={"nope": 1}).status_code == 400
    assert us.admin.post("/_sim/faults", json={"error_rate": 2}).status_code == 400
    assert us.admin.post("/_sim/faults", json={"bad_product_ids": "X1"}).status_code == 400
    assert us.admin.get("/_sim/faults").json()["failing_product_ids"] == ["F"]


def test_stats_and_reset(jp: Region) -> None:
    jp.sync([dto("JP", "J1"), dto("JP", "J2", status="Nope")])
    jp.lookup(["J1"])
    jp.api.get("/api/unknown")
    jp.sync([])
    stats = jp.stats()
    assert stats["calls"] == {"sync": 2, "lookup": 1, "other": 1}
    assert stats["statuses"] == {"200": 2, "404": 1, "400": 1}
    assert stats["products"] == 1 and stats["receives"] == 1
    assert set(stats["faults_injected"]) == {"error", "rate_limit", "slow", "bad_product", "down"}
    assert jp.admin.post("/_sim/reset").status_code == 200
    stats = jp.stats()
    assert stats["calls"] == {"sync": 0, "lookup": 0, "other": 0}
    assert stats["statuses"] == {} and stats["products"] == 0 and stats["receives"] == 0
    assert jp.admin.get("/_sim/products").json() == {"products": {}, "receiveCounts": {}}


def test_concurrent_sends_keep_counts_consistent(tw: Region) -> None:
    threads, calls, per_call = 8, 20, 5
    errors: list[str] = []
    success = [0] * threads

    def worker(t: int) -> None:
        headers = {"X-Api-Key": KEYS["TW"], "X-Source": "GlobalHub"}
        with httpx.Client(base_url=tw.served.url, headers=headers, timeout=10) as client:
            for c in range(calls):
                # 40 distinct ids shared by all threads, so creates and updates race.
                products = [dto("TW", f"C{(t * 7 + c * per_call + k) % 40}") for k in range(per_call)]
                r = client.post(SYNC_PATH, json=payload(products))
                if r.status_code != 200:
                    errors.append(r.text)
                    continue
                success[t] += r.json()["successCount"]

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert not errors
    total = threads * calls * per_call
    assert sum(success) == total
    counts = tw.store.receive_counts()
    assert sum(counts.values()) == total and len(counts) == len(tw.store) == 40
    stats = tw.stats()
    assert stats["calls"]["sync"] == threads * calls and stats["statuses"] == {"200": threads * calls}
    assert stats["receives"] == total


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_module_serves() -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.region_products", "--region", "JP", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
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
        assert r.status_code == 200 and r.json()["products"] == 0
        headers = {"X-Api-Key": "region-jp-local-key", "X-Source": "GlobalHub"}
        r = httpx.post(f"http://127.0.0.1:{port}{SYNC_PATH}", json=payload([dto("JP", "J1")]), headers=headers)
        assert r.status_code == 200 and r.json()["details"][0]["status"] == "created"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}" in out and "JP" in out
