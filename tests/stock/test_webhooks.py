"""Webhook ingress: signature vectors, replays, bad bodies; the inbox holds each event once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import orjson
from sqlalchemy import func, select

from commerce_core.db.engine import get_engine
from commerce_core.db.schema import webhook_events
from commerce_core.webhooks.signatures import serp_signature
from stock_service.settings import LOCAL_SERP_WEBHOOK_SECRET, LOCAL_SHOPLINE_APP_SECRET
from tests.stock.helpers import served, service_settings, unique


def _serp(client, event: dict | bytes, *, secret: str = LOCAL_SERP_WEBHOOK_SECRET, at: float | None = None):
    body = event if isinstance(event, bytes) else orjson.dumps(event)
    stamp = str(int(at if at is not None else time.time()))
    return client.post("/webhooks/serp", content=body, headers={
        "X-Serp-Timestamp": stamp, "X-Serp-Signature": serp_signature(secret, stamp, body),
        "Content-Type": "application/json"})


def _stored(database_url: str, source: str) -> int:
    with get_engine(database_url).connect() as conn:
        return conn.execute(select(func.count()).select_from(webhook_events)
                            .where(webhook_events.c.source == source)).scalar_one()


def test_serp_webhooks_are_verified_stored_once_and_refused_when_forged(database_url):
    event = {"eventId": unique("evt"), "eventType": "product.updated", "productId": "SERP-0000001",
             "occurredAt": "2026-03-01T00:00:00Z"}
    with served(service_settings(database_url, False)) as client:
        first = _serp(client, event)
        assert first.status_code == 202 and first.json() == {"accepted": True, "eventId": event["eventId"]}
        assert _serp(client, event).status_code == 202  # a redelivery: answered the same, stored once
        assert _stored(database_url, "serp") == 1
        assert _serp(client, {**event, "eventId": unique("evt")}, secret="forged").status_code == 401
        assert _serp(client, {**event, "eventId": unique("evt")}, at=time.time() - 301).status_code == 401
        assert _serp(client, b"{not json").status_code == 400
        assert _serp(client, {**event, "eventType": "product.exploded"}).status_code == 400
        assert _serp(client, b"{" + b" " * 300_000 + b"}").status_code == 413
        unsigned = client.post("/webhooks/serp", content=orjson.dumps(event))
        assert unsigned.status_code == 401
    assert _stored(database_url, "serp") == 1


def test_shopline_webhooks_accept_hex_and_base64_signatures(database_url):
    def post(client, topic: str, body: dict, webhook_id: str, *, form: str = "hex", secret=LOCAL_SHOPLINE_APP_SECRET):
        raw = orjson.dumps(body)
        digest = hmac.new(secret.encode(), raw, hashlib.sha256).digest()
        signature = digest.hex() if form == "hex" else base64.b64encode(digest).decode()
        return client.post("/webhooks/shopline", content=raw, headers={
            "X-Shopline-Topic": topic, "X-Shopline-Hmac-Sha256": signature, "X-Shopline-Webhook-Id": webhook_id,
            "X-Shopline-Shop-Domain": "shop.myshopline.com", "X-Shopline-API-Version": "v20230901"})

    with served(service_settings(database_url, False)) as client:
        assert post(client, "products/update", {"id": "101"}, unique("w")).status_code == 200
        assert post(client, "orders/paid", {"id": "202"}, unique("w"), form="base64").status_code == 200
        repeated = unique("w")
        assert post(client, "orders/create", {"id": "203"}, repeated).status_code == 200
        assert post(client, "orders/create", {"id": "203"}, repeated).status_code == 200
        assert post(client, "products/update", {"id": "101"}, unique("w"), secret="forged").status_code == 401
        assert post(client, "themes/publish", {"id": "1"}, unique("w")).json() == {"accepted": False,
                                                                                   "ignored": "themes/publish"}
        level = {"inventory_item_id": "57039", "location_id": "54217", "variant_id": "18057", "available": 4}
        assert post(client, "inventory_levels/update", level, unique("w")).status_code == 200
        assert post(client, "products/delete", {"title": "no id"}, unique("w")).json()["field"] == "id"
    assert _stored(database_url, "shopline") == 4
    with get_engine(database_url).connect() as conn:
        about = dict(conn.execute(select(webhook_events.c.event_type, webhook_events.c.resource_id).where(
            webhook_events.c.event_type.in_(["products/update", "inventory_levels/update"]))).all())
    assert about == {"products/update": "101", "inventory_levels/update": "18057"}  # a level names its variant
