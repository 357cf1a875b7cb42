"""The stock API over real HTTP, in both modes, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import quote_from_bytes

from lxml import etree
from sqlalchemy import select

from commerce_core.db.engine import get_engine
from commerce_core.db.schema import inventory_sync_log, stock_ledger, stock_reservations
from commerce_core.stock.ledger import ledger_totals
from commerce_core.settings import LOCAL_NEXTENGINE_STORE
from stock_service.settings import LOCAL_NEXTENGINE_KEY
from tests.stock.helpers import served, service_settings, unique


def _stock(client, sku: str, quantity: int | None) -> None:
    answer = client.put("/stock", json={"items": [{"sku": sku, "quantity": quantity}]},
                        headers={"Idempotency-Key": unique("set")})
    assert answer.status_code == 200, answer.text


def _reserve(client, sku: str, order: str, user: str, quantity: int = 1):
    return client.post(f"/stock/{sku}/reservations", json={"orderId": order, "userId": user, "quantity": quantity})


def test_reserve_release_confirm_and_the_ledger(database_url, mode):
    with served(service_settings(database_url, mode == "redis")) as client:
        sku = unique("SKU")
        _stock(client, sku, 5)
        first = _reserve(client, sku, f"{sku}-o1", unique("u"), 3)
        assert first.status_code == 201 and first.json()["status"] == "open"
        short = _reserve(client, sku, f"{sku}-o2", unique("u"), 3)
        assert short.status_code == 409 and short.json()["available"] == 2
        assert client.post(f"/reservations/{sku}-o1/confirm").json()["status"] == "confirmed"
        assert client.post(f"/reservations/{sku}-o1/release").status_code == 409  # sold is sold
        second = _reserve(client, sku, f"{sku}-o3", unique("u"), 2)
        assert second.status_code == 201
        assert client.post(f"/reservations/{sku}-o3/release").json()["status"] == "released"
        assert client.get(f"/stock/{sku}").json() == {"sku": sku, "available": 2, "onHand": 2, "reserved": 0,
                                                      "unlimited": False}
    with get_engine(database_url).connect() as conn:
        kinds = conn.execute(select(stock_ledger.c.entry_type).where(stock_ledger.c.sku == sku)
                             .order_by(stock_ledger.c.id)).scalars().all()
        assert kinds == ["adjust", "reserve", "confirm", "reserve", "release"]
        assert ledger_totals(conn, [sku]) == {sku: (2, 0)}


def test_a_retried_write_gets_the_first_answer_and_changes_nothing(database_url, mode):
    with served(service_settings(database_url, mode == "redis")) as client:
        sku, user = unique("SKU"), unique("u")
        _stock(client, sku, 1)
        first = _reserve(client, sku, f"{sku}-o", user)
        again = _reserve(client, sku, f"{sku}-o", user)
        assert (first.status_code, again.status_code) == (201, 201) and first.json() == again.json()
        refused = _reserve(client, sku, f"{sku}-late", unique("u"))
        _stock(client, sku, 10)  # stock arrives; the refused order's retry still gets its first answer
        assert _reserve(client, sku, f"{sku}-late", unique("u")).json() == refused.json()
        released = client.post(f"/reservations/{sku}-o/release")
        assert client.post(f"/reservations/{sku}-o/release").json() == released.json()
        assert client.get(f"/stock/{sku}").json()["available"] == 10
    with get_engine(database_url).connect() as conn:
        assert conn.execute(select(stock_reservations.c.order_id).where(stock_reservations.c.sku == sku)
                            ).scalars().all() == [f"{sku}-o"]


def test_one_order_per_second_per_user(database_url, mode):
    with served(service_settings(database_url, mode == "redis")) as client:
        sku, user = unique("SKU"), unique("u")
        _stock(client, sku, 10)
        assert _reserve(client, sku, unique("o"), user).status_code == 201
        limited = _reserve(client, sku, unique("o"), user)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert _reserve(client, sku, unique("o"), unique("u")).status_code == 201  # others are not held up
        time.sleep(1.05)
        assert _reserve(client, sku, unique("o"), user).status_code == 201


def test_bad_input_names_the_field_and_nothing_answers_500(database_url, mode):
    with served(service_settings(database_url, mode == "redis")) as client:
        sku = unique("SKU")
        _stock(client, sku, 3)
        cases = [
            ({"orderId": "o", "userId": "u", "quantity": 0}, "quantity"),
            ({"orderId": "o", "userId": "u", "quantity": "2"}, "quantity"),
            ({"orderId": "o", "userId": "u", "quantity": True}, "quantity"),
            ({"userId": "u", "quantity": 1}, "orderId"),
            ({"orderId": "o" * 300, "userId": "u", "quantity": 1}, "orderId"),
            ({"orderId": "o", "quantity": 1}, "userId"),
            ({"orderId": "o" * 128 + "\n", "userId": "u", "quantity": 1}, "orderId"),
            ({"orderId": "o", "userId": "u\n", "quantity": 1}, "userId"),
            ({"orderId": "o", "userId": "u", "quantity": 10**30}, "quantity"),
        ]
        for body, field in cases:
            answer = client.post(f"/stock/{sku}/reservations", json=body)
            assert answer.status_code == 400 and answer.json()["field"] == field, (body, answer.text)
        assert client.post(f"/stock/{sku}/reservations", content=b"{not json").json()["field"] == "body"
        assert client.post(f"/stock/{sku}/reservations", content=b"[1]").json()["field"] == "body"
        assert client.put("/stock", json={"items": [{"sku": sku, "quantity": 1}]}).json()["field"] == \
            "Idempotency-Key header"
        duplicate = client.put("/stock", json={"items": [{"sku": sku, "quantity": 1}, {"sku": sku, "quantity": 2}]},
                               headers={"Idempotency-Key": unique("k")})
        assert duplicate.status_code == 400 and duplicate.json()["field"] == "items[1].sku"
        assert _reserve(client, unique("NOPE"), unique("o"), unique("u")).status_code == 404
        assert client.post(f"/reservations/{unique('nope')}/confirm").status_code == 404
        for below in ("abc", "²", "--5", "9" * 5000, "0"):
            assert client.get(f"/stock?below={below}").status_code == 400, below


def test_unlimited_stock_never_runs_out(database_url, mode):
    with served(service_settings(database_url, mode == "redis")) as client:
        sku = unique("SKU")
        _stock(client, sku, None)
        for _ in range(3):  # more than a 32-bit column could add up
            assert _reserve(client, sku, unique("o"), unique("u"), 1_000_000_000).status_code == 201
        assert client.get(f"/stock/{sku}").json()["available"] is None


def test_holds_expire_and_return_to_stock(database_url, mode):
    with served(service_settings(database_url, mode == "redis", hold_seconds=0.3, expiry_interval=0.1)) as client:
        sku = unique("SKU")
        _stock(client, sku, 1)
        assert _reserve(client, sku, f"{sku}-o", unique("u")).status_code == 201
        deadline = time.monotonic() + 10
        while client.get(f"/stock/{sku}").json()["available"] != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.get(f"/stock/{sku}").json()["available"] == 1
        assert _reserve(client, sku, unique("o"), unique("u")).status_code == 201
        assert client.post(f"/reservations/{sku}-o/confirm").json()["error"] == "already_expired"


def test_low_stock_list_and_openapi(database_url, mode):
    with served(service_settings(database_url, mode == "redis")) as client:
        low, plenty = unique("LOW"), unique("PLENTY")
        _stock(client, low, 2)
        _stock(client, plenty, 50)
        skus = [item["sku"] for item in client.get("/stock?below=5").json()["items"]]
        assert low in skus and plenty not in skus
        spec = client.get("/openapi.json").json()
        assert {"/stock/{sku}/reservations", "/reservations/{order_id}/release", "/stock",
                "/webhooks/nextengine/stock"} <= set(spec["paths"])


def _push(client, code: str, stock: str, ts: datetime, *, key: str = LOCAL_NEXTENGINE_KEY):
    stamp = ts.astimezone(timezone(timedelta(hours=9))).strftime("%Y%m%d%H%M%S")
    values = {"StoreAccount": LOCAL_NEXTENGINE_STORE.encode(), "Code": code.encode(), "Stock": stock.encode(),
              "ts": stamp.encode()}
    signed = b"&".join(name.encode() + b"=" + value for name, value in values.items()) + key.encode()
    query = "&".join(f"{name}={quote_from_bytes(value)}" for name, value in values.items())
    query += f"&.sig={hashlib.md5(signed).hexdigest()}"
    answer = client.get(f"/webhooks/nextengine/stock?{query}")
    assert answer.headers["content-type"] == "text/xml; charset=EUC-JP"
    return int(etree.fromstring(answer.content).findtext(".//Processed"))


def test_nextengine_pushes_set_stock_once_in_order(database_url, mode):
    now = datetime.now(timezone.utc)
    with served(service_settings(database_url, mode == "redis")) as client:
        sku = unique("NE")
        assert _push(client, sku, "7", now - timedelta(minutes=5)) == 0
        assert client.get(f"/stock/{sku}").json()["available"] == 7
        assert _push(client, sku, "7", now - timedelta(minutes=5)) == 0  # replay: answered, applied once
        assert _push(client, sku, "3", now - timedelta(minutes=9)) == 0  # older than the last applied
        assert client.get(f"/stock/{sku}").json()["available"] == 7
        assert _push(client, sku, "", now) == 0  # empty Stock: unlimited, not zero
        assert client.get(f"/stock/{sku}").json()["available"] is None
        assert _push(client, sku, "5", now + timedelta(seconds=1), key="wrong") == -2
        assert _push(client, sku, "5", now - timedelta(days=2)) == -2
    with get_engine(database_url).connect() as conn:
        outcomes = conn.execute(select(inventory_sync_log.c.outcome).where(inventory_sync_log.c.sku == sku)
                                .order_by(inventory_sync_log.c.id)).scalars().all()
    assert outcomes == ["applied", "stale", "applied"]


def test_a_code_with_ampersand_and_japanese_text_is_pushed_and_reserved(database_url, mode):
    from urllib.parse import quote

    code = f"テスト&<\"商品'>-{unique('x')}"
    with served(service_settings(database_url, mode == "redis")) as client:
        assert _push(client, code, "2", datetime.now(timezone.utc) - timedelta(minutes=1)) == 0
        path = quote(code, safe="")
        assert client.get(f"/stock/{path}").json()["available"] == 2
        answer = client.post(f"/stock/{path}/reservations", json={"orderId": unique("o"), "userId": unique("u"),
                                                                    "quantity": 2})
        assert answer.status_code == 201 and answer.json()["sku"] == code
