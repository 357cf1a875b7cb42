"""Webhook ingress routes (POST /webhooks/serp, /webhooks/shopline): verify, store, answer.

The event is in the inbox (database) before the sender gets its 2xx; a forged,
stale or replayed request changes nothing. Dagster never receives HTTP: sensors
read the inbox.
"""

from __future__ import annotations

import time

import orjson
from starlette.requests import Request
from starlette.responses import Response

from commerce_core.webhooks.signatures import WebhookRefused, verify_serp, verify_shopline

MAX_WEBHOOK_BODY = 256 * 1024
SERP_EVENT_TYPES = ("product.created", "product.updated", "product.deleted", "product.price_changed",
                    "product.availability_changed")
SHOPLINE_TOPICS = ("products/create", "products/update", "products/delete", "inventory_levels/update",
                   "orders/create", "orders/paid", "orders/cancelled")
# The body field naming what an event is about: the product or order `id`, except an inventory level,
# which names its variant (Shopline's body carries no product id; the import resolves the variant).
SHOPLINE_RESOURCE_FIELD = {"inventory_levels/update": "variant_id"}


def _answer(status: int, body: dict) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def _raw_body(request: Request) -> bytes | Response:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_WEBHOOK_BODY:
        return _answer(413, {"error": "too_large", "message": f"body larger than {MAX_WEBHOOK_BODY} bytes"})
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_WEBHOOK_BODY:
            return _answer(413, {"error": "too_large", "message": f"body larger than {MAX_WEBHOOK_BODY} bytes"})
    return bytes(body)


def _json(body: bytes) -> dict | Response:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _answer(400, {"error": "bad_request", "message": "body: not valid JSON"})
    if not isinstance(data, dict):
        return _answer(400, {"error": "bad_request", "message": "body: must be a JSON object"})
    return data


def routes(service):
    """The two endpoints, bound to the running service (its engine and secrets)."""

    async def _store(source: str, event_id: str, event_type: str, resource_id, payload: bytes) -> bool:
        """Stored by the inbox's group commit: answered only after the transaction holding it committed."""
        return await service.inbox.submit({
            "source": source, "event_id": event_id, "event_type": event_type,
            "resource_id": None if resource_id is None else str(resource_id)[:128],
            "payload": payload.decode("utf-8", "replace"),
        })

    async def serp(request: Request) -> Response:
        body = await _raw_body(request)
        if isinstance(body, Response):
            return body
        try:
            verify_serp(request.headers, body, service.settings.serp_webhook_secret, time.time())
        except WebhookRefused as refused:
            return _answer(401, {"error": "unauthorized", "message": refused.reason})
        event = _json(body)
        if isinstance(event, Response):
            return event
        for field in ("eventId", "eventType", "productId"):
            if not isinstance(event.get(field), str) or not event[field]:
                return _answer(400, {"error": "bad_request", "field": field, "message": f"{field}: required string"})
        if event["eventType"] not in SERP_EVENT_TYPES:
            return _answer(400, {"error": "bad_request", "field": "eventType",
                                 "message": f"eventType: one of {', '.join(SERP_EVENT_TYPES)}"})
        try:
            await _store("serp", event["eventId"][:128], event["eventType"], event["productId"], body)
        except Exception:  # not stored: the sender retries
            return _answer(503, {"error": "unavailable", "message": "event not stored; retry"})
        return _answer(202, {"accepted": True, "eventId": event["eventId"]})

    async def shopline(request: Request) -> Response:
        body = await _raw_body(request)
        if isinstance(body, Response):
            return body
        try:
            verify_shopline(request.headers, body, service.settings.shopline_app_secret)
        except WebhookRefused as refused:
            return _answer(401, {"error": "unauthorized", "message": refused.reason})
        webhook_id = request.headers.get("x-shopline-webhook-id", "").strip()
        topic = request.headers.get("x-shopline-topic", "").strip()
        if not webhook_id:
            return _answer(400, {"error": "bad_request", "field": "X-Shopline-Webhook-Id", "message": "required"})
        event = _json(body)
        if isinstance(event, Response):
            return event
        if topic not in SHOPLINE_TOPICS:  # acknowledged so the platform stops retrying; nothing to do for it
            return _answer(200, {"accepted": False, "ignored": topic or "(no topic)"})
        field = SHOPLINE_RESOURCE_FIELD.get(topic, "id")
        resource_id = event.get(field)
        if isinstance(resource_id, bool) or not isinstance(resource_id, (str, int)) or resource_id == "":
            return _answer(400, {"error": "bad_request", "field": field, "message": f"{field}: required id"})
        try:
            await _store("shopline", webhook_id[:128], topic, resource_id, body)
        except Exception:  # not stored: the platform retries
            return _answer(503, {"error": "unavailable", "message": "event not stored; retry"})
        return _answer(200, {"accepted": True})

    return serp, shopline
