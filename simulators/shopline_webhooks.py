"""The Shopline simulator's webhooks (docs/protocols/shopline.md): changes made through its admin routes are
sent, signed, to one subscriber URL, the way the platform sends them.

Each webhook is a POST of the JSON body with `X-Shopline-Topic`,
`X-Shopline-Hmac-Sha256` (lowercase hex HMAC-SHA256 of the raw body keyed with
the app secret), `X-Shopline-Shop-Domain`, `X-Shopline-Webhook-Id` and
`X-Shopline-API-Version`. A delivery the receiver does not answer 2xx within
the timeout (15 s, the platform's) is redelivered, with the same webhook id,
up to 3 times. Sending happens inside the admin call, which answers with what
each delivery saw.

Bodies follow Shopline's real webhooks: products/create|update the product
(REST shape), products/delete `{"id"}`, orders/* the order (REST shape), and
inventory_levels/update the inventory level: `inventory_item_id`,
`location_id`, `variant_id`, `available`, `onhand`, `committed`,
`unavailable`, `updated_at` (no product id: the receiver resolves the variant).

Admin routes (no token): POST /_sim/products/create {"count"},
/_sim/products/delete {"ids"}, /_sim/inventory {"levels": [{"variant_id",
"available"}]} (through the store's one inventory setter: updated_at moves, a deleted
product's variant is refused; not listed among GET /_sim/inventory's API "sets"),
/_sim/orders/create {"count"}, /_sim/orders/paid {"ids"}, /_sim/orders/cancelled {"ids"};
GET /_sim/webhooks lists the deliveries.
(/_sim/change in simulators/shopline.py sends products/update.)
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulators.deliveries import DeliveryLog, attempt

if TYPE_CHECKING:  # simulators.shopline imports this module
    from simulators.shopline import ShoplineStore

DEFAULT_SHOP_DOMAIN = "sim-shop.myshopline.com"
WEBHOOK_TIMEOUT_SECONDS = 15.0  # the platform waits this long for an answer
MAX_REDELIVERIES = 3


@dataclass(frozen=True)
class WebhookTarget:
    """Where the simulated store sends its webhooks, and how patiently."""

    url: str
    app_secret: str = field(repr=False)  # never in a log line or a traceback
    shop_domain: str = DEFAULT_SHOP_DOMAIN
    timeout_seconds: float = WEBHOOK_TIMEOUT_SECONDS
    max_redeliveries: int = MAX_REDELIVERIES
    redelivery_delay_seconds: float = 1.0


@dataclass
class Delivery:
    webhook_id: str
    topic: str
    attempts: list[int | str] = field(default_factory=list)  # HTTP status, or "timeout" / "unreachable"
    delivered: bool = False


def signed_headers(target: WebhookTarget, api_version: str, topic: str, webhook_id: str, body: bytes) -> dict:
    return {
        "Content-Type": "application/json",
        "X-Shopline-Topic": topic,
        "X-Shopline-Hmac-Sha256": hmac.new(target.app_secret.encode(), body, hashlib.sha256).hexdigest(),
        "X-Shopline-Shop-Domain": target.shop_domain,
        "X-Shopline-Webhook-Id": webhook_id,
        "X-Shopline-API-Version": api_version,
    }


class ShoplineWebhooks:
    """Sends webhooks to the subscriber (none configured: changes are made, nothing is sent) and keeps a log."""

    def __init__(self, target: WebhookTarget | None, api_version: str) -> None:
        self.target = target
        self.api_version = api_version
        self.deliveries = DeliveryLog()

    def send(self, events: list[tuple[str, dict]]) -> list[Delivery]:
        """Deliver (topic, body) events in order, each with its own webhook id; blocking."""
        if self.target is None or not events:
            return []
        sent = []
        with httpx.Client(timeout=self.target.timeout_seconds) as client:
            for topic, payload in events:
                sent.append(self._deliver(client, topic, orjson.dumps(payload)))
        return sent

    def _deliver(self, client: httpx.Client, topic: str, body: bytes) -> Delivery:
        target = self.target
        delivery = Delivery(webhook_id=uuid.uuid4().hex[:24], topic=topic)
        # The same id and signature on every attempt: the receiver dedupes a redelivery by the id.
        headers = signed_headers(target, self.api_version, topic, delivery.webhook_id, body)
        for number in range(1 + target.max_redeliveries):
            if number:
                time.sleep(target.redelivery_delay_seconds)
            status, _ = attempt(lambda: client.post(target.url, content=body, headers=headers))
            delivery.attempts.append(status)
            if isinstance(status, int) and 200 <= status < 300:
                delivery.delivered = True
                break
        self.deliveries.add(delivery)
        return delivery

    def log(self) -> list[Delivery]:
        return self.deliveries.all()

    def summary(self) -> dict[str, int]:
        return self.deliveries.summary()


def product_events(store: ShoplineStore, topic: str, indexes: list[int]) -> list[tuple[str, dict]]:
    return [(topic, store.product(i)) for i in indexes]


def inventory_level(level: dict[str, Any]) -> dict[str, Any]:
    """The inventory_levels/update body of a level the store just set (`ShoplineStore.inventory_level`: the
    inventory_item_id and location the API names too; one location, nothing committed)."""
    return {**level, "onhand": level["available"], "committed": 0, "unavailable": 0}


def _error(message: str, field_name: str) -> Response:
    return Response(orjson.dumps({"error": message, "field": field_name}), 400, media_type="application/json")


def _answer(data: dict) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


async def _body(request: Request, name: str, kind: type) -> Any:
    """The admin body's `name` field: a count (int >= 0) or a list; a Response on anything else."""
    try:
        body = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError:
        return _error("body must be JSON", name)
    value = body.get(name) if isinstance(body, dict) else None
    if kind is int and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        return _error(f"{name} must be an integer >= 0", name)
    if kind is list and not isinstance(value, list):
        return _error(f"{name} must be a list", name)
    return value


def _sent(deliveries: list[Delivery]) -> list[dict]:
    return [asdict(delivery) for delivery in deliveries]


def admin_routes(store: ShoplineStore, webhooks: ShoplineWebhooks) -> list[Route]:
    """Routes that change the store like a merchant would, each sending the webhooks the change causes."""

    async def create_products(request: Request) -> Response:
        count = await _body(request, "count", int)
        if isinstance(count, Response):
            return count
        created = store.create(count)
        sent = await run_in_threadpool(webhooks.send, product_events(store, "products/create", created))
        return _answer({"created": [store.product_id(i) for i in created], "webhooks": _sent(sent)})

    async def delete_products(request: Request) -> Response:
        ids = await _body(request, "ids", list)
        if isinstance(ids, Response):
            return ids
        deleted = store.delete([str(x) for x in ids])
        sent = await run_in_threadpool(webhooks.send, [("products/delete", {"id": pid}) for pid in deleted])
        return _answer({"deleted": deleted, "webhooks": _sent(sent)})

    async def set_inventory(request: Request) -> Response:
        levels = await _body(request, "levels", list)
        if isinstance(levels, Response):
            return levels
        wanted = []
        for level in levels:  # all checked before any is applied: a refused call changes nothing
            available = level.get("available") if isinstance(level, dict) else None
            if not isinstance(available, int) or isinstance(available, bool) or available < 0:
                return _error("each level needs a variant_id and an integer available >= 0", "levels")
            try:
                index, _ = store.variant_position(str(level.get("variant_id")))
            except ValueError as unknown:
                return _error(str(unknown), "levels")
            if not store.is_live(index):
                return _error(f"variant {level['variant_id']} belongs to a deleted product", "levels")
            wanted.append((str(level["variant_id"]), available))
        try:
            changed = [store.set_available(variant_id, available) for variant_id, available in wanted]
        except ValueError as gone:  # deleted between the check and the change
            return _error(str(gone), "levels")
        events = [("inventory_levels/update", inventory_level(level)) for level in changed]
        sent = await run_in_threadpool(webhooks.send, events)
        return _answer({"updated": [body["variant_id"] for _, body in events], "webhooks": _sent(sent)})

    async def create_orders(request: Request) -> Response:
        count = await _body(request, "count", int)
        if isinstance(count, Response):
            return count
        placed = store.place_orders(count)
        sent = await run_in_threadpool(webhooks.send, [("orders/create", store.order(i)) for i in placed])
        return _answer({"created": [store.order_id(i) for i in placed], "webhooks": _sent(sent)})

    def order_state(state: str):
        async def endpoint(request: Request) -> Response:
            ids = await _body(request, "ids", list)
            if isinstance(ids, Response):
                return ids
            changed = store.set_order_state([str(x) for x in ids], state)
            sent = await run_in_threadpool(webhooks.send, [(f"orders/{state}", store.order(i)) for i in changed])
            return _answer({state: [store.order_id(i) for i in changed], "webhooks": _sent(sent)})

        return endpoint

    async def deliveries(request: Request) -> Response:
        return _answer({"deliveries": _sent(webhooks.log()), **webhooks.summary()})

    return [
        Route("/_sim/products/create", create_products, methods=["POST"]),
        Route("/_sim/products/delete", delete_products, methods=["POST"]),
        Route("/_sim/inventory", set_inventory, methods=["POST"]),
        Route("/_sim/orders/create", create_orders, methods=["POST"]),
        Route("/_sim/orders/paid", order_state("paid"), methods=["POST"]),
        Route("/_sim/orders/cancelled", order_state("cancelled"), methods=["POST"]),
        Route("/_sim/webhooks", deliveries, methods=["GET"]),
    ]
