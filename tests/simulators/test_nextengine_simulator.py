"""Next Engine simulator: rotating tokens, paging, data, faults, admin and CLI over real HTTP."""

from __future__ import annotations

import os
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
from simulators.nextengine import (
    DEFAULT_PORT,
    ENDPOINTS,
    NextEngineData,
    NextEngineFaults,
    create_app,
)

REPO = Path(__file__).resolve().parents[2]
GOODS, STOCK, ORDERS = ENDPOINTS
ACCESS, REFRESH = "acc-0", "ref-0"
TOKEN_FIELDS = ("access_token", "access_token_end_date", "refresh_token", "refresh_token_end_date")


@contextmanager
def served(data: NextEngineData | None = None, **kwargs) -> Iterator[tuple[httpx.Client, object]]:
    app = create_app(data or NextEngineData(products=25, orders=30, seed=7),
                     access_token=ACCESS, refresh_token=REFRESH, **kwargs)
    with ServedApp(app) as srv, httpx.Client(base_url=srv.url, timeout=10) as client:
        yield client, app


def call(client: httpx.Client, path: str, access: str, refresh: str, **fields) -> httpx.Response:
    return client.post(path, data={"access_token": access, "refresh_token": refresh, **fields})


class Session:
    """A well-behaved client: persists the rotated pair after every call."""

    def __init__(self, client: httpx.Client) -> None:
        self.client, self.access, self.refresh = client, ACCESS, REFRESH

    def __call__(self, path: str, **fields) -> dict:
        r = call(self.client, path, self.access, self.refresh, **fields)
        assert r.status_code == 200
        body = r.json()
        assert body["result"] == "success", body
        self.access, self.refresh = body["access_token"], body["refresh_token"]
        return body


def assert_rejected(r: httpx.Response) -> None:
    assert r.status_code == 200
    body = r.json()
    assert body["result"] == "error" and body["code"] == "002002"
    assert not any(k in body for k in TOKEN_FIELDS)


def test_success_rotates_both_tokens_and_old_pair_is_rejected() -> None:
    with served() as (client, app):
        r = call(client, GOODS, ACCESS, REFRESH, limit="3")
        body = r.json()
        assert r.status_code == 200 and body["result"] == "success"
        assert body["count"] == "25" and len(body["data"]) == 3
        assert body["access_token"] not in (ACCESS, REFRESH) and body["refresh_token"] not in (ACCESS, REFRESH)
        assert body["access_token"] != body["refresh_token"]
        for k in ("access_token_end_date", "refresh_token_end_date"):
            time.strptime(body[k], "%Y-%m-%d %H:%M:%S")
        assert body["access_token_end_date"] < body["refresh_token_end_date"]
        assert_rejected(call(client, GOODS, ACCESS, REFRESH))
        tokens = client.get("/_sim/tokens").json()
        assert tokens["access_token"] == body["access_token"] and tokens["refresh_token"] == body["refresh_token"]
        # The new pair works, and rotates again.
        r2 = call(client, STOCK, body["access_token"], body["refresh_token"]).json()
        assert r2["result"] == "success" and r2["access_token"] != body["access_token"]


def test_stale_access_with_current_refresh_succeeds_and_rotates() -> None:
    with served() as (client, _):
        first = call(client, GOODS, ACCESS, REFRESH).json()
        r = call(client, GOODS, "stale-access", first["refresh_token"]).json()
        assert r["result"] == "success"
        assert r["access_token"] != first["access_token"] and r["refresh_token"] != first["refresh_token"]
        assert_rejected(call(client, GOODS, first["access_token"], first["refresh_token"]))
        stats = client.get("/_sim/stats").json()
        assert stats["refreshed"] == 1 and stats["token_rotations"] == 2 and stats["rejected"] == 1


def test_both_stale_rejected_without_tokens() -> None:
    with served() as (client, _):
        assert_rejected(call(client, ORDERS, "nope", "nope"))
        # A rejection does not rotate: the initial pair still works.
        assert call(client, ORDERS, ACCESS, REFRESH).json()["result"] == "success"


def test_expiry_via_clock() -> None:
    with served() as (client, app):
        s = Session(client)
        s(GOODS)
        app.state.clock.advance(86400 + 1)  # access expired, refresh still valid
        before = s.access
        body = s(GOODS)
        assert body["access_token"] != before
        assert client.get("/_sim/stats").json()["refreshed"] == 1
        app.state.clock.advance(3 * 86400 + 1)  # both expired
        assert_rejected(call(client, GOODS, s.access, s.refresh))
        # Admin clock route moves the same clock.
        r = client.post("/_sim/clock", json={"advance_seconds": 60})
        assert r.status_code == 200 and "now" in r.json()


def test_grace_seconds_keeps_previous_pair_briefly() -> None:
    with served(grace_seconds=30) as (client, app):
        p1 = call(client, GOODS, ACCESS, REFRESH).json()
        p2 = call(client, GOODS, ACCESS, REFRESH).json()  # previous pair, within grace
        assert p2["result"] == "success"
        assert_rejected(call(client, GOODS, ACCESS, REFRESH))  # two rotations old now
        p3 = call(client, GOODS, p1["access_token"], p1["refresh_token"]).json()  # previous again
        assert p3["result"] == "success"
        app.state.clock.advance(31)
        assert_rejected(call(client, GOODS, p2["access_token"], p2["refresh_token"]))  # grace over
        assert call(client, GOODS, p3["access_token"], p3["refresh_token"]).json()["result"] == "success"


@pytest.mark.parametrize("path,key,total", [(GOODS, "goods_id", 25), (STOCK, "stock_goods_id", 25),
                                            (ORDERS, "receive_order_id", 30)])
def test_paging_covers_every_record_once(path: str, key: str, total: int) -> None:
    with served() as (client, _):
        s = Session(client)
        seen: list[str] = []
        offset = 0
        while True:
            body = s(path, offset=str(offset), limit="7")
            assert body["count"] == str(total)
            if not body["data"]:
                break
            seen += [rec[key] for rec in body["data"]]
            offset += 7
        assert len(seen) == len(set(seen)) == total
        assert s(path, offset=str(total + 100))["data"] == []
        assert len(s(path)["data"]) == min(total, 100)  # default limit


def test_limit_capped_at_10000() -> None:
    with served(NextEngineData(products=10_005, orders=1)) as (client, _):
        body = Session(client)(GOODS, limit="50000")
        assert body["count"] == "10005" and len(body["data"]) == 10_000
        assert body["data"][0]["goods_id"] == "NE-0000001" and body["data"][-1]["goods_id"] == "NE-0010000"


def test_record_shapes_and_change() -> None:
    with served() as (client, _):
        s = Session(client)
        goods = s(GOODS)["data"]
        g = goods[0]
        assert set(g) == {"goods_id", "goods_name", "goods_selling_price", "stock_quantity", "goods_last_modified_date"}
        assert all(isinstance(v, str) for v in g.values()) and int(g["goods_selling_price"]) > 0
        st = s(STOCK)["data"][0]
        assert set(st) == {"stock_goods_id", "stock_quantity", "stock_free_quantity", "stock_last_modified_date"}
        assert int(st["stock_free_quantity"]) <= int(st["stock_quantity"])
        changed = client.post("/_sim/change", json={"count": 3}).json()["changed"]
        assert len(changed) == 3
        after = {r["goods_id"]: r for r in s(GOODS)["data"]}
        before = {r["goods_id"]: r for r in goods}
        for gid in changed:
            assert after[gid]["goods_last_modified_date"] > before[gid]["goods_last_modified_date"]
            assert after[gid]["goods_selling_price"] != before[gid]["goods_selling_price"]
        assert all(after[k] == before[k] for k in before if k not in changed)
        assert client.get("/_sim/stats").json()["changed_count"] == 3


def test_orders_repeat_customer_emails_and_are_deterministic() -> None:
    data = NextEngineData(products=25, orders=30, seed=7)
    with served(data) as (client, _):
        orders = Session(client)(ORDERS)["data"]
    emails = [o["receive_order_purchaser_mail_address"] for o in orders]
    assert len(set(emails)) < len(emails)
    names = {}
    for o in orders:
        assert names.setdefault(o["receive_order_purchaser_mail_address"], o["receive_order_purchaser_name"]) \
            == o["receive_order_purchaser_name"]
        rows = o["receive_order_row"]
        assert rows and int(o["receive_order_total_amount"]) == sum(
            int(r["receive_order_row_quantity"]) * int(r["receive_order_row_unit_price"]) for r in rows)
        assert all(r["receive_order_row_goods_id"].startswith("NE-") for r in rows)
    assert NextEngineData(25, 30, 7).order(5) == data.order(5)
    assert NextEngineData(25, 30, 8).order(5) != data.order(5)


def test_non_form_or_missing_tokens_answer_200_error() -> None:
    with served() as (client, _):
        r = client.post(GOODS, json={"access_token": ACCESS, "refresh_token": REFRESH})
        assert r.status_code == 200 and r.json()["result"] == "error"
        r = client.get(GOODS)
        assert r.status_code == 200 and r.json()["result"] == "error"
        r = client.post(GOODS, data={"access_token": ACCESS})
        assert r.status_code == 200 and r.json()["result"] == "error"
        r = call(client, GOODS, ACCESS, REFRESH, limit="x")
        assert r.status_code == 200 and r.json()["result"] == "error"
        # None of these consumed the initial pair.
        assert call(client, GOODS, ACCESS, REFRESH).json()["result"] == "success"


def test_rate_limit_fault_issues_no_tokens() -> None:
    with served(faults=NextEngineFaults(rate_limit_rate=1.0, retry_after_seconds=3)) as (client, app):
        r = call(client, GOODS, ACCESS, REFRESH)
        assert r.status_code == 429 and r.headers["retry-after"] == "3"
        assert "access_token" not in r.json()
        assert client.get("/_sim/tokens").json()["access_token"] == ACCESS  # admin never faulted
        stats = client.get("/_sim/stats").json()
        assert stats["faults"]["rate_limit"] == 1 and stats["token_rotations"] == 0


def test_error_fault() -> None:
    with served(faults=NextEngineFaults(error_rate=1.0)) as (client, _):
        r = call(client, STOCK, ACCESS, REFRESH)
        assert r.status_code in (500, 502, 503) and "access_token" not in r.text


def test_stats_counts() -> None:
    with served() as (client, _):
        s = Session(client)
        s(GOODS)
        s(GOODS)
        s(ORDERS)
        call(client, STOCK, "x", "y")
        stats = client.get("/_sim/stats").json()
        assert stats["calls"] == {GOODS: 2, STOCK: 1, ORDERS: 1}
        assert stats["token_rotations"] == 3 and stats["rejected"] == 1 and stats["successes"] == 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_module_serves() -> None:
    assert DEFAULT_PORT == 8121
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.nextengine", "--port", str(port), "--products", "5", "--orders", "4"],
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
        body = httpx.post(f"http://127.0.0.1:{port}{GOODS}",
                          data={"access_token": "ne-local-access", "refresh_token": "ne-local-refresh"}).json()
        assert body["result"] == "success" and body["count"] == "5"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}" in out
