"""Shopline Admin OpenAPI simulator (REST + GraphQL) per docs/protocols/shopline.md.

REST: GET /admin/openapi/{version}/products/products.json and .../orders/orders.json
with `Authorization: Bearer <token>`; cursor paging through the `page_info` parameter
of the `Link: <...>; rel="next"` header (the first page may take `since_id`; with
`page_info` other filters are ignored); `limit` default 50, at most 1000.
GraphQL: POST .../graphql.json with the `products(first:, after:)` Relay connection
only (ids are `gid://shopline/Product/<id>`, `first` at most 250). Records are
generated lazily from (seed, index); ids are digit strings ascending with the index.
Admin routes under /_sim/ need no token and are never faulted.

Beyond the contract (our assumption, the Shopify-compatible Admin GraphQL shape
Shopline follows): `nodes(ids: [GID, ...])` (at most 250) answers, in order, each
Product GID's product node and each ProductVariant GID's `{id, product {...}}`,
or null for an id the store does not have (a deleted product). Deleted products
leave the listings. Changes made through the admin routes are sent as signed
webhooks to a configured URL (`simulators/shopline_webhooks.py`).
Inventory (the real Open API's shape; the contract names no inventory endpoint):
GET .../locations/list.json (one default location), GET .../products/variants/{id}.json
(a variant with its `inventory_item_id`; 404 once its product is deleted) and POST
.../inventory_levels/set.json `{"inventory_item_id", "location_id", "available"}` (404 for an
item the store does not have, a deleted product's included), which stores the variant's level:
REST `inventory_quantity` and GraphQL `inventoryQuantity` show it from then on, and the
product's updated_at moves (so an incremental read sees it). The admin route
POST /_sim/inventory goes through the same setter (updated_at moves too, deleted products
refused) and sends inventory_levels/update webhooks naming the same inventory_item_id and
location as the API. GET /_sim/inventory lists every level set (by SKU) and, under "sets",
the set.json calls in arrival order: the API calls the hub made, not the admin route's changes.
The products connection also takes `query:` in the search syntax the hub's converters
write (`updated_at:>='...'`, `(id:1 OR id:2)`, `status:active`, joined by AND). It is
evaluated lazily: `hasNextPage` says more candidates remain, so a filtered walk can end
with an empty page, as real cursor APIs' can.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import hashlib
import heapq
import itertools
import os
import random
import re
import secrets
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulators.shopline_webhooks import (
    DEFAULT_SHOP_DOMAIN,
    WEBHOOK_TIMEOUT_SECONDS,
    ShoplineWebhooks,
    WebhookTarget,
    admin_routes,
    product_events,
)
from stock_service.settings import LOCAL_SHOPLINE_APP_SECRET

DEFAULT_PORT = 8131
API_VERSION = "v20230901"
BASE_PATH = "/admin/openapi/{version}"
PRODUCTS_PATH = BASE_PATH + "/products/products.json"
ORDERS_PATH = BASE_PATH + "/orders/orders.json"
GRAPHQL_PATH = BASE_PATH + "/graphql.json"
KINDS = ("rest_products", "rest_orders", "graphql")
CURRENCY = "TWD"
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_FIRST = 250
TPE = timezone(timedelta(hours=8))
# 2025-01-01T00:00:00Z; product i was created (and last updated) at T0 + i minutes.
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
PRODUCT_ID_BASE, PRODUCT_ID_STEP = 16_057_190_000_000, 37
VARIANT_ID_BASE = 18_057_190_000_000
INVENTORY_ITEM_ID_BASE = 19_057_190_000_000
LOCATION_ID = "54217042481355"
INVENTORY_SET_PATH = BASE_PATH + "/inventory_levels/set.json"
VARIANT_PATH = BASE_PATH + "/products/variants/{variant_id}.json"
LOCATIONS_PATH = BASE_PATH + "/locations/list.json"
ORDER_ID_BASE, ORDER_ID_STEP = 21_057_190_000_000, 53
CUSTOMER_ID_BASE = 46_057_190_000_000
IMAGE_HOST = "https://img.myshopline.com/image/store/sim"

_ADJ = ("經典", "手工", "限量", "天然", "有機", "北歐", "日式", "復古", "極簡", "職人")
_NOUN = ("馬克杯", "帆布袋", "茶葉", "香皂", "毛巾", "筆記本", "竹筷", "香氛蠟燭", "保溫瓶", "圍巾")
_VENDORS = ("Taipei Goods", "Tainan Craft", "Hsinchu Lab", "Kaohsiung Co.")
_TYPES = ("Kitchen", "Bath", "Stationery", "Tea", "Accessories")
_FIRST = ("Wei", "Mei", "Jun", "Hui", "Ting", "Yu", "Chen", "Ling", "Hao", "Xin")
_LAST = ("Chen", "Lin", "Huang", "Chang", "Lee", "Wang", "Wu", "Liu", "Tsai", "Yang")
_STATUSES = ("active",) * 7 + ("draft", "draft", "archived")
_FINANCIAL = ("paid",) * 6 + ("pending", "pending", "pending", "refunded")


def format_time(dt: datetime) -> str:
    """ISO-8601 with the store's offset (+08:00), whole seconds."""
    return dt.astimezone(TPE).isoformat(timespec="seconds")


def _digest(seed: int, index: int, tag: str) -> bytes:
    return hashlib.blake2b(f"{seed}:{index}:{tag}".encode(), digest_size=32).digest()


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(token: str) -> str:
    """Inverse of `_b64`; raises ValueError on anything malformed."""
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("malformed token") from exc


class ShoplineStore:
    """Deterministic products and orders, generated lazily from (seed, index)."""

    def __init__(self, products: int = 1000, orders: int = 500, seed: int = 42) -> None:
        if products < 0 or orders < 0:
            raise ValueError("products and orders must be >= 0")
        self.products = products
        self.orders = orders
        self.seed = seed
        self.customers = max(1, orders // 3)  # so customers repeat across orders
        self._versions: dict[int, int] = {}
        self._modified: dict[int, datetime] = {}
        self._deleted: set[int] = set()
        self._orders_placed: dict[int, datetime] = {}  # orders created through the admin, when
        self._order_states: dict[int, tuple[str, datetime]] = {}  # order index -> ("paid" | "cancelled", when)
        self._last_stamp = T0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._inventory: dict[str, int] = {}  # variant id -> level set (inventory_levels/set.json or the admin)
        self._inventory_sets: list[tuple[str, int]] = []  # set.json calls only: (variant id, available) in order

    # -- ids -------------------------------------------------------------------
    @staticmethod
    def product_id(index: int) -> str:
        return str(PRODUCT_ID_BASE + (index + 1) * PRODUCT_ID_STEP)

    @staticmethod
    def order_id(index: int) -> str:
        return str(ORDER_ID_BASE + (index + 1) * ORDER_ID_STEP)

    @staticmethod
    def variant_id(index: int, k: int) -> str:
        return str(VARIANT_ID_BASE + index * 10 + k + 1)

    @staticmethod
    def inventory_item_id(index: int, k: int) -> str:
        return str(INVENTORY_ITEM_ID_BASE + index * 10 + k + 1)

    def variant_position(self, variant_or_item_id: str, base: int = VARIANT_ID_BASE) -> tuple[int, int]:
        """(product index, variant number) of an existing variant (or inventory item) id; ValueError otherwise."""
        offset = int(variant_or_item_id) - base - 1
        index, k = divmod(offset, 10)
        if offset < 0 or index >= self.products or k >= self.variant_count(index):
            raise ValueError(f"unknown id {variant_or_item_id}")
        return index, k

    def total(self, kind: str) -> int:
        return self.orders if kind == "orders" else self.products

    def first_index_after(self, kind: str, since_id: int) -> int:
        """Index of the first record of `kind` whose numeric id is > since_id."""
        base, step = (ORDER_ID_BASE, ORDER_ID_STEP) if kind == "orders" else (PRODUCT_ID_BASE, PRODUCT_ID_STEP)
        return min(max(0, (since_id - base) // step), self.total(kind))

    def variant_count(self, index: int) -> int:
        return 1 + _digest(self.seed, index, "product")[4] % 3

    def is_live(self, index: int) -> bool:
        """A product the store still has (not deleted)."""
        with self._lock:
            return 0 <= index < self.products and index not in self._deleted

    def page_indexes(self, kind: str, start: int, limit: int) -> list[int]:
        """Up to `limit` indexes of live records from `start` on: deleted products are skipped, so a page stays
        full and a cursor on the last one served still points past them."""
        if kind == "orders":
            return list(range(start, min(start + limit, self.orders)))
        with self._lock:
            deleted = set(self._deleted)
        indexes, index = [], start
        while len(indexes) < limit and index < self.products:
            if index not in deleted:
                indexes.append(index)
            index += 1
        return indexes

    def index_of(self, kind: str, record_id: str) -> int:
        """Index of an existing record id; ValueError if it is not one."""
        base, step = (ORDER_ID_BASE, ORDER_ID_STEP) if kind == "orders" else (PRODUCT_ID_BASE, PRODUCT_ID_STEP)
        offset = int(record_id) - base
        if offset <= 0 or offset % step or offset // step > self.total(kind):
            raise ValueError(f"unknown {kind} id {record_id}")
        return offset // step - 1

    # -- products ----------------------------------------------------------------
    def _base_price(self, index: int) -> int:
        h = _digest(self.seed, index, "product")
        return (2 + (h[0] << 8 | h[1]) % 199) * 50  # 100..10,000 TWD

    def _state(self, index: int) -> tuple[int, datetime]:
        with self._lock:
            return self._versions.get(index, 0), self._modified.get(index, T0 + timedelta(minutes=index))

    def product(self, index: int) -> dict[str, Any]:
        h = _digest(self.seed, index, "product")
        version, modified = self._state(index)
        price = self._base_price(index) + 10 * version
        variants = [
            {
                "id": self.variant_id(index, k),
                "sku": f"SL-{index + 1:07d}-{k + 1}",
                "price": f"{price + 50 * k}.00",
                "currency": CURRENCY,
                "inventory_quantity": self._inventory.get(self.variant_id(index, k), (h[10 + k] + 3 * version) % 40),
                "inventory_item_id": self.inventory_item_id(index, k),
            }
            for k in range(1 + h[4] % 3)
        ]
        images = [
            {"src": f"{IMAGE_HOST}/{self.product_id(index)}-{n}.jpg", "position": n}
            for n in range(1, 2 + h[5] % 2)
        ]
        title = f"{_ADJ[h[2] % len(_ADJ)]}{_NOUN[h[3] % len(_NOUN)]} {index + 1}"
        return {
            "id": self.product_id(index),
            "title": title,
            "body_html": f"<p>{title}</p>",
            "status": _STATUSES[h[6] % len(_STATUSES)],
            "vendor": _VENDORS[h[7] % len(_VENDORS)],
            "product_type": _TYPES[h[8] % len(_TYPES)],
            "created_at": format_time(T0 + timedelta(minutes=index)),
            "updated_at": format_time(modified),
            "variants": variants,
            "images": images,
        }

    def product_node(self, index: int) -> dict[str, Any]:
        """The GraphQL shape of product `index`."""
        p = self.product(index)
        return {
            "id": f"gid://shopline/Product/{p['id']}",
            "title": p["title"],
            "descriptionHtml": p["body_html"],
            "status": p["status"].upper(),
            "updatedAt": p["updated_at"],
            "variants": {"edges": [
                {"node": {
                    "id": f"gid://shopline/ProductVariant/{v['id']}",
                    "sku": v["sku"],
                    "price": v["price"],
                    "inventoryQuantity": v["inventory_quantity"],
                }}
                for v in p["variants"]
            ]},
        }

    # -- orders ------------------------------------------------------------------
    def customer(self, number: int) -> dict[str, str]:
        h = _digest(self.seed, number, "customer")
        first, last = _FIRST[h[0] % len(_FIRST)], _LAST[h[1] % len(_LAST)]
        return {
            "id": str(CUSTOMER_ID_BASE + number + 1),
            "email": f"customer{number + 1:05d}@example.tw",
            "first_name": first,
            "last_name": last,
        }

    def order(self, index: int) -> dict[str, Any]:
        h = _digest(self.seed, index, "order")
        items = []
        if self.products:
            for k in range(1 + h[2] % 3):
                g = (h[3 + 2 * k] << 16 | h[4 + 2 * k] << 8 | h[10 + k]) % self.products
                n_variants = 1 + _digest(self.seed, g, "product")[4] % 3
                v = h[20 + k] % n_variants
                items.append({
                    "id": str(ORDER_ID_BASE + (index + 1) * ORDER_ID_STEP * 10 + k + 1),
                    "variant_id": self.variant_id(g, v),
                    "sku": f"SL-{g + 1:07d}-{v + 1}",
                    "quantity": 1 + h[14 + k] % 4,
                    "price": f"{self._base_price(g) + 50 * v}.00",
                })
        total = sum(i["quantity"] * int(i["price"].split(".")[0]) for i in items)
        with self._lock:
            placed = self._orders_placed.get(index)
            state = self._order_states.get(index)
        order = {
            "id": self.order_id(index),
            "name": f"#{1001 + index}",
            "created_at": format_time(placed or T0 + timedelta(hours=index)),
            "financial_status": _FINANCIAL[h[0] % len(_FINANCIAL)],
            "currency": CURRENCY,
            "total_price": f"{total}.00",
            "customer": self.customer((h[0] << 8 | h[1]) % self.customers),
            "line_items": items,
        }
        if state is not None:
            status, when = state
            if status == "paid":
                order["financial_status"] = "paid"
            else:  # Shopline marks a cancelled order by cancelled_at; money taken is refunded
                order["cancelled_at"] = format_time(when)
                order["financial_status"] = "refunded" if order["financial_status"] == "paid" else "voided"
        return order

    def record(self, kind: str, index: int) -> dict[str, Any]:
        return self.order(index) if kind == "orders" else self.product(index)

    # -- changes -----------------------------------------------------------------
    def change(self, count: int, now: datetime | None = None) -> list[str]:
        """Bump price, stock and updated_at of `count` seeded products; returns their ids."""
        with self._lock:
            count = min(max(count, 0), self.products)
            live = [i for i in range(self.products) if i not in self._deleted]
            chosen = sorted(self._rng.sample(live, min(count, len(live))))
        return self.change_indices(chosen, now)

    def change_indices(self, indices: list[int], now: datetime | None = None) -> list[str]:
        """Bump price, stock and updated_at of the products at these indices (e.g. in the middle of a walk)."""
        now = now or datetime.now(timezone.utc)
        if not indices:
            return []
        with self._lock:
            stamp = self._next_stamp(now)
            for i in indices:
                self._versions[i] = self._versions.get(i, 0) + 1
                self._modified[i] = stamp
        return [self.product_id(i) for i in indices]

    def _next_stamp(self, now: datetime) -> datetime:
        """Strictly increasing stamps, whole seconds (the API's resolution); call with the lock held."""
        stamp = max(now.replace(microsecond=0), self._last_stamp + timedelta(seconds=1))
        self._last_stamp = stamp
        return stamp

    def set_inventory(self, inventory_item_id: str, available: int, now: datetime | None = None) -> dict[str, Any]:
        """inventory_levels/set.json: the level of one variant, listed among the API set calls
        (`inventory_set_calls`). ValueError for an item the store does not have, a deleted product's included
        (the route answers 404, as Shopline does for a missing item)."""
        index, k = self.variant_position(inventory_item_id, INVENTORY_ITEM_ID_BASE)
        return self._set_level(index, k, available, now, api_call=True)

    def set_available(self, variant_id: str, available: int, now: datetime | None = None) -> dict[str, Any]:
        """The admin route's (a merchant's) change of a variant's level: the same setter as set.json (the
        product's updated_at moves, a deleted product is refused with ValueError), but not listed among
        the API set calls, which show only what the hub sent."""
        index, k = self.variant_position(variant_id)
        return self._set_level(index, k, available, now, api_call=False)

    def _set_level(self, index: int, k: int, available: int, now: datetime | None, *,
                   api_call: bool) -> dict[str, Any]:
        """The one inventory setter: stores the level of a live product's variant and stamps the product's
        updated_at (so an incremental read sees it); returns the level (`inventory_level`)."""
        variant_id = self.variant_id(index, k)
        with self._lock:
            if not 0 <= index < self.products or index in self._deleted:
                raise ValueError(f"variant {variant_id} belongs to a deleted product")
            stamp = self._next_stamp(now or datetime.now(timezone.utc))
            self._inventory[variant_id] = available
            self._modified[index] = stamp
            if api_call:
                self._inventory_sets.append((variant_id, available))
        return self.inventory_level(index, k, available, stamp)

    def inventory_level(self, index: int, k: int, available: int, updated_at: datetime) -> dict[str, Any]:
        """Variant k of product `index` at the store's one location: what set.json answers and the
        inventory_levels/update webhook carries (ids from `inventory_item_id` and LOCATION_ID)."""
        return {"inventory_item_id": self.inventory_item_id(index, k), "location_id": LOCATION_ID,
                "variant_id": self.variant_id(index, k), "available": available,
                "updated_at": format_time(updated_at)}

    def inventory_set_calls(self) -> list[tuple[str, int]]:
        """(variant id, available) of every accepted inventory_levels/set.json call, in arrival order (the
        admin route's changes are not listed: this shows what the hub sent)."""
        with self._lock:
            return list(self._inventory_sets)

    def inventory_levels(self) -> dict[str, dict[str, Any]]:
        """Every level set so far, by SKU."""
        with self._lock:
            levels = dict(self._inventory)
        out = {}
        for variant_id, available in levels.items():
            index, k = self.variant_position(variant_id)
            out[f"SL-{index + 1:07d}-{k + 1}"] = {"variant_id": variant_id, "available": available,
                                                  "inventory_item_id": self.inventory_item_id(index, k)}
        return out

    # -- search (the products connection's `query:`) -------------------------------
    def search(self, start: int, first: int, spec: "ProductSearch") -> tuple[list[int], bool]:
        """Up to `first` matching indices from `start` on, and whether candidates remain after them."""
        candidates = self._candidates(start, spec)
        found: list[int] = []
        for i in candidates:
            if spec.matches(self, i):
                found.append(i)
                if len(found) == first:
                    break
        return found, next(candidates, None) is not None

    def _candidates(self, start: int, spec: "ProductSearch") -> Iterator[int]:
        """Indices in id order that may match: an id list, or (with updated_at) the products whose
        generated stamp is late enough plus every product changed since, else all of them."""
        if spec.ids is not None:
            return iter(sorted(i for i in spec.ids if start <= i < self.products))
        if spec.updated_min is None:
            return iter(range(start, self.products))
        first_late = max(start, min(self.products, int((spec.updated_min - T0).total_seconds() // 60)))
        with self._lock:
            changed = sorted(i for i in self._modified if i >= start)
        merged = heapq.merge(range(first_late, self.products), changed)
        return (i for i, _ in itertools.groupby(merged))

    def updated_at(self, index: int) -> datetime:
        return self._state(index)[1]

    def status(self, index: int) -> str:
        return _STATUSES[_digest(self.seed, index, "product")[6] % len(_STATUSES)]

    def create(self, count: int, now: datetime | None = None) -> list[int]:
        """`count` new products after the last one; returns their indexes."""
        with self._lock:
            stamp = self._next_stamp(now or datetime.now(timezone.utc))
            created = list(range(self.products, self.products + max(count, 0)))
            self.products += len(created)
            for i in created:
                self._modified[i] = stamp
        return created

    def delete(self, product_ids: list[str]) -> list[str]:
        """Delete these products (unknown or already deleted ids are skipped); returns the ids deleted."""
        deleted = []
        for product_id in dict.fromkeys(product_ids):
            try:
                index = self.index_of("products", product_id)
            except ValueError:
                continue
            with self._lock:
                if index not in self._deleted:
                    self._deleted.add(index)
                    deleted.append(product_id)
        return deleted

    def place_orders(self, count: int, now: datetime | None = None) -> list[int]:
        """`count` new orders; returns their indexes."""
        with self._lock:
            stamp = self._next_stamp(now or datetime.now(timezone.utc))
            placed = list(range(self.orders, self.orders + max(count, 0)))
            self.orders += len(placed)
            for i in placed:
                self._orders_placed[i] = stamp
        return placed

    def set_order_state(self, order_ids: list[str], state: str, now: datetime | None = None) -> list[int]:
        """Mark orders "paid" or "cancelled"; returns the indexes of the orders that exist."""
        indexes = []
        for order_id in dict.fromkeys(order_ids):
            try:
                indexes.append(self.index_of("orders", order_id))
            except ValueError:
                continue
        with self._lock:
            stamp = self._next_stamp(now or datetime.now(timezone.utc))
            for i in indexes:
                self._order_states[i] = (state, stamp)
        return indexes

    @property
    def changed_count(self) -> int:
        with self._lock:
            return len(self._versions)

    @property
    def deleted_count(self) -> int:
        with self._lock:
            return len(self._deleted)


@dataclass
class ShoplineFaults:
    """Request-level fault injection on API calls (all off by default)."""

    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    retry_after_seconds: int = 1
    slow_rate: float = 0.0
    slow_seconds: float = 2.0
    fault_seed: int = 0

    def __post_init__(self) -> None:
        for name in ("error_rate", "rate_limit_rate", "slow_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within 0..1")

    def describe(self) -> str:
        active = [f"{k}={v}" for k, v in asdict(self).items() if k.endswith("_rate") and v]
        return ", ".join(active) if active else "none"


class _Stats:
    def __init__(self) -> None:
        self.calls: dict[str, int] = {k: 0 for k in KINDS}
        self.statuses: dict[str, int] = {}
        self.faults: dict[str, int] = {"error": 0, "rate_limit": 0, "slow": 0}
        self.graphql_errors = 0
        self.graphql_fields: dict[str, int] = {}  # root field -> calls (products, nodes)
        self.node_lookups: dict[str, int] = {}  # GID kind -> ids looked up through nodes(ids:)
        self.lock = threading.Lock()

    def bump(self, name: str, key: str) -> None:
        with self.lock:
            table = getattr(self, name)
            table[key] = table.get(key, 0) + 1


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, headers=headers, media_type="application/json")


def _bad_request(message: str) -> Response:
    return _json({"errors": message}, 400)


def _parse_int(raw: str | None, name: str) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer") from exc


_PRODUCTS_ARGS = re.compile(r"\bproducts\s*\(([^)]*)\)", re.S)
_FIRST_LITERAL = re.compile(r"\bfirst\s*:\s*(-?\d+)")
_AFTER_LITERAL = re.compile(r"\bafter\s*:\s*(?:\"([^\"]*)\"|null\b)")
_VAR_REF = re.compile(r"\b(first|after)\s*:\s*\$(\w+)")
_NODES_ARGS = re.compile(r"\bnodes\s*\(\s*ids\s*:\s*(?:\$(\w+)|(\[[^\]]*\]))", re.S)
_GID_LITERAL = re.compile(r"\"([^\"]*)\"")
_GID = re.compile(r"^gid://shopline/(?P<kind>[A-Za-z]+)/(?P<id>\d+)$")


def _graphql_args(query: str, variables: dict[str, Any]) -> tuple[Any, Any]:
    """(first, after) from `variables` or from literal arguments of `products(...)`."""
    first, after = variables.get("first"), variables.get("after")
    match = _PRODUCTS_ARGS.search(query, max(query.find("{"), 0))  # skip the operation header
    args = match.group(1) if match else ""
    for name, var in _VAR_REF.findall(args):  # `first: $n` with a differently named variable
        if name == "first" and first is None:
            first = variables.get(var)
        if name == "after" and after is None:
            after = variables.get(var)
    if first is None and (m := _FIRST_LITERAL.search(args)):
        first = int(m.group(1))
    if after is None and (m := _AFTER_LITERAL.search(args)):
        after = m.group(1)
    return first, after


_QUERY_LITERAL = re.compile(r'\bquery\s*:\s*"((?:[^"\\]|\\.)*)"')
_QUERY_VAR = re.compile(r"\bquery\s*:\s*\$(\w+)")
_UPDATED_TERM = re.compile(r"^updated_at:(>=|>)'?([^']+)'?$")
_IDS_TERM = re.compile(r"^\(?(id:\d+(?:\s+OR\s+id:\d+)*)\)?$")
_STATUS_TERM = re.compile(r"^status:(active|draft|archived)$")


@dataclass(frozen=True)
class ProductSearch:
    """The products connection's `query:` (Shopify-style search syntax, the terms the hub writes)."""

    updated_min: datetime | None = None
    updated_inclusive: bool = True
    ids: frozenset[int] | None = None  # product indices
    status: str | None = None

    @classmethod
    def parse(cls, text: str, store: ShoplineStore) -> "ProductSearch":
        """ValueError names a term the simulator does not understand (a real store would not filter by it)."""
        updated, inclusive, ids, status = None, True, None, None
        for term in (t.strip() for t in re.split(r"\s+AND\s+", text.strip()) if t.strip()):
            if m := _UPDATED_TERM.match(term):
                updated = datetime.fromisoformat(m.group(2).replace("Z", "+00:00"))
                if updated.tzinfo is None:
                    raise ValueError(f"updated_at needs a UTC offset: {term}")
                inclusive = m.group(1) == ">="
            elif m := _IDS_TERM.match(term):
                ids = set()
                for pid in re.findall(r"id:(\d+)", m.group(1)):
                    try:
                        ids.add(store.index_of("products", pid))
                    except ValueError:
                        pass  # an id the store does not have matches nothing
                ids = frozenset(ids)
            elif m := _STATUS_TERM.match(term):
                status = m.group(1)
            else:
                raise ValueError(f"unsupported search term {term!r}")
        return cls(updated, inclusive, ids, status)

    def matches(self, store: ShoplineStore, index: int) -> bool:
        if not store.is_live(index):
            return False
        if self.updated_min is not None:
            stamp = store.updated_at(index)
            if stamp < self.updated_min or (stamp == self.updated_min and not self.updated_inclusive):
                return False
        return self.status is None or store.status(index) == self.status


def _graphql_search(query: str, variables: dict[str, Any]) -> str | None:
    """The `query:` argument of `products(...)`, from a variable or a string literal; None when absent."""
    match = _PRODUCTS_ARGS.search(query, max(query.find("{"), 0))
    args = match.group(1) if match else ""
    if m := _QUERY_VAR.search(args):
        return variables.get(m.group(1))
    if m := _QUERY_LITERAL.search(args):
        return m.group(1).replace('\\"', '"')
    return None


def create_app(store: ShoplineStore, *, access_token: str, faults: ShoplineFaults | None = None,
               webhook_target: WebhookTarget | None = None) -> Starlette:
    """Starlette app serving `store` to callers presenting `Bearer <access_token>`; with `webhook_target`,
    changes made through the admin routes are sent there as signed webhooks."""
    faults = faults or ShoplineFaults()
    stats = _Stats()
    webhooks = ShoplineWebhooks(webhook_target, API_VERSION)
    fault_rng = random.Random(faults.fault_seed)
    fault_lock = threading.Lock()
    expected_auth = f"Bearer {access_token}"

    def api(kind: str, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """Count, fault-inject, authenticate, then run `handler`; records the status."""

        async def endpoint(request: Request) -> Response:
            stats.bump("calls", kind)
            response = await guarded(request)
            stats.bump("statuses", str(response.status_code))
            return response

        async def guarded(request: Request) -> Response:
            with fault_lock:
                u_kind, u_code, u_slow = fault_rng.random(), fault_rng.random(), fault_rng.random()
            if u_slow < faults.slow_rate:
                stats.bump("faults", "slow")
                await asyncio.sleep(faults.slow_seconds)
            if u_kind < faults.error_rate:
                stats.bump("faults", "error")
                return _json({"errors": "Internal Server Error"}, (500, 502, 503)[int(u_code * 3)])
            if u_kind < faults.error_rate + faults.rate_limit_rate:
                stats.bump("faults", "rate_limit")
                return _json({"errors": "Too Many Requests"}, 429,
                             {"Retry-After": str(faults.retry_after_seconds)})
            auth = request.headers.get("authorization", "")
            if not secrets.compare_digest(auth.encode(), expected_auth.encode()):
                return _json({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"},
                             401)
            return await handler(request)

        return endpoint

    def rest(kind: str) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            params = request.query_params
            try:
                limit = _parse_int(params.get("limit"), "limit")
                page_info = params.get("page_info")
                if page_info is not None:
                    try:
                        token_kind, last_id, token_limit = _unb64(page_info).split(":")
                        if token_kind != kind:
                            raise ValueError
                        start = store.index_of(kind, last_id) + 1
                        limit = int(token_limit) if limit is None else limit
                    except ValueError:
                        return _bad_request("page_info is invalid")
                else:
                    since_id = _parse_int(params.get("since_id"), "since_id")
                    start = 0 if since_id is None else store.first_index_after(kind, since_id)
            except ValueError as exc:
                return _bad_request(str(exc))
            limit = DEFAULT_LIMIT if limit is None else limit
            if not 1 <= limit <= MAX_LIMIT:
                return _bad_request(f"limit must be within 1..{MAX_LIMIT}")
            indexes = store.page_indexes(kind, start, limit)
            records = [store.record(kind, i) for i in indexes]
            headers = {}
            if records and indexes[-1] + 1 < store.total(kind):
                token = _b64(f"{kind}:{records[-1]['id']}:{limit}")
                url = request.url.replace(query=f"limit={limit}&page_info={token}")
                headers["Link"] = f'<{url}>; rel="next"'
            return _json({kind: records}, headers=headers)

        return handler

    def gql_error(message: str) -> Response:
        with stats.lock:
            stats.graphql_errors += 1
        return _json({"errors": [{"message": message}]})

    async def graphql(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _bad_request("body must be JSON")
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _bad_request("body must be a JSON object with a string `query`")
        query = body["query"]
        variables = body.get("variables") or {}
        if not isinstance(variables, dict):
            return gql_error("variables must be an object")
        if (match := _NODES_ARGS.search(query, max(query.find("{"), 0))) is not None:
            return nodes(match, variables)
        if not _PRODUCTS_ARGS.search(query, max(query.find("{"), 0)):
            return gql_error("Unsupported query: only products(first:, after:) and nodes(ids:) are available")
        first, after = _graphql_args(query, variables)
        if not isinstance(first, int) or isinstance(first, bool) or first < 1:
            return gql_error("products: `first` must be a positive integer")
        if first > MAX_FIRST:
            return gql_error(f"products: `first` exceeds the maximum of {MAX_FIRST}")
        start = 0
        if after is not None:
            try:
                if not isinstance(after, str):
                    raise ValueError
                prefix, pid = _unb64(after).split(":")
                if prefix != "Product":
                    raise ValueError
                start = store.index_of("products", pid) + 1
            except ValueError:
                return gql_error("products: invalid cursor for `after`")
        stats.bump("graphql_fields", "products")
        search = _graphql_search(query, variables)
        if search:
            try:
                indexes, has_next = store.search(start, first, ProductSearch.parse(search, store))
            except ValueError as exc:
                return gql_error(f"products: query: {exc}")
        else:
            indexes = store.page_indexes("products", start, first)
            has_next = bool(indexes) and indexes[-1] + 1 < store.products
        edges = [{"cursor": _b64(f"Product:{store.product_id(i)}"), "node": store.product_node(i)} for i in indexes]
        return _json({"data": {"products": {
            "edges": edges,
            "pageInfo": {
                "hasNextPage": has_next,
                "endCursor": edges[-1]["cursor"] if edges else None,
            },
        }}})

    def nodes(match: re.Match, variables: dict[str, Any]) -> Response:
        """`nodes(ids: [...])`: per id, in order, its node or null when the store does not have it."""
        ids = variables.get(match.group(1)) if match.group(1) else _GID_LITERAL.findall(match.group(2))
        if not isinstance(ids, list) or not all(isinstance(gid, str) for gid in ids):
            return gql_error("nodes: `ids` must be a list of GIDs")
        if len(ids) > MAX_FIRST:
            return gql_error(f"nodes: at most {MAX_FIRST} ids")
        gids = [_GID.match(gid) for gid in ids]
        if None in gids:
            return gql_error(f"nodes: invalid global id {ids[gids.index(None)]!r}")
        stats.bump("graphql_fields", "nodes")
        for gid in gids:
            stats.bump("node_lookups", gid["kind"])
        return _json({"data": {"nodes": [node_of(gid["kind"], gid["id"]) for gid in gids]}})

    def node_of(kind: str, plain_id: str) -> dict[str, Any] | None:
        try:
            if kind == "Product":
                index = store.index_of("products", plain_id)
                return store.product_node(index) if store.is_live(index) else None
            if kind == "ProductVariant":
                index, _ = store.variant_position(plain_id)
                if store.is_live(index):
                    return {"id": f"gid://shopline/ProductVariant/{plain_id}", "product": store.product_node(index)}
        except ValueError:
            pass
        return None

    async def locations(request: Request) -> Response:
        return _json({"locations": [{"id": LOCATION_ID, "name": "Taipei warehouse", "active": True,
                                     "is_default": "true", "country_code": "TW"}]})

    async def variant(request: Request) -> Response:
        try:
            index, k = store.variant_position(request.path_params["variant_id"])
        except ValueError:
            return _json({"errors": "Not Found"}, 404)
        if not store.is_live(index):  # its product was deleted: the variant went with it
            return _json({"errors": "Not Found"}, 404)
        return _json({"variant": {**store.product(index)["variants"][k], "product_id": store.product_id(index)}})

    async def inventory_set(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _bad_request("body must be JSON")
        if not isinstance(body, dict):
            return _bad_request("body must be a JSON object")
        available = body.get("available")
        if not isinstance(available, int) or isinstance(available, bool):
            return _bad_request("available must be an integer")
        if body.get("location_id") != LOCATION_ID:
            return _json({"errors": f"location {body.get('location_id')!r} not found"}, 404)
        try:
            level = store.set_inventory(str(body.get("inventory_item_id")), available)
        except ValueError:
            return _json({"errors": f"inventory item {body.get('inventory_item_id')!r} not found"}, 404)
        return _json({"inventory_level": level})

    async def sim_inventory(request: Request) -> Response:
        return _json({"levels": store.inventory_levels(),
                      "sets": [{"variant_id": v, "available": a} for v, a in store.inventory_set_calls()]})

    async def sim_stats(request: Request) -> Response:
        with stats.lock:
            body = {
                "calls": dict(stats.calls),
                "statuses": dict(stats.statuses),
                "faults": dict(stats.faults),
                "graphql_errors": stats.graphql_errors,
                "graphql_fields": dict(stats.graphql_fields),
                "node_lookups": dict(stats.node_lookups),
            }
        body.update(products=store.products, orders=store.orders, changed_count=store.changed_count,
                    deleted_count=store.deleted_count, webhooks=webhooks.summary())
        return _json(body)

    async def sim_change(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            return _json({"error": "body must be JSON"}, 400)
        count = body.get("count") if isinstance(body, dict) else None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            return _json({"error": "count must be an integer >= 0", "field": "count"}, 400)
        changed = store.change(count)
        indexes = [store.index_of("products", product_id) for product_id in changed]
        sent = await run_in_threadpool(webhooks.send, product_events(store, "products/update", indexes))
        return _json({"changed": changed, "webhooks": [asdict(delivery) for delivery in sent]})

    app = Starlette(routes=[
        Route(PRODUCTS_PATH, api("rest_products", rest("products")), methods=["GET"]),
        Route(ORDERS_PATH, api("rest_orders", rest("orders")), methods=["GET"]),
        Route(GRAPHQL_PATH, api("graphql", graphql), methods=["POST"]),
        Route("/_sim/stats", sim_stats, methods=["GET"]),
        Route("/_sim/change", sim_change, methods=["POST"]),
        *admin_routes(store, webhooks),
        Route(LOCATIONS_PATH, api("locations", locations), methods=["GET"]),
        Route(VARIANT_PATH, api("variants", variant), methods=["GET"]),
        Route(INVENTORY_SET_PATH, api("inventory_set", inventory_set), methods=["POST"]),
        Route("/_sim/inventory", sim_inventory, methods=["GET"]),
    ])
    app.state.store = store
    app.state.webhooks = webhooks
    app.state.faults = faults
    app.state.stats = stats
    return app


# -- CLI ---------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags for `python -m simulators.shopline`."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--access-token", default="shopline-local-token")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of API calls answered 5xx")
    parser.add_argument("--rate-limit-rate", type=float, default=0.0, help="fraction answered 429")
    parser.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds on 429")
    parser.add_argument("--slow-rate", type=float, default=0.0, help="fraction of calls delayed")
    parser.add_argument("--slow-seconds", type=float, default=2.0)
    parser.add_argument("--fault-seed", type=int, default=0)
    parser.add_argument("--webhook-url", default="",
                        help="send webhooks for admin-route changes here, e.g. http://127.0.0.1:8000/webhooks/shopline")
    # A secret on the command line is visible to every user of the machine (ps): prefer the environment.
    parser.add_argument("--app-secret", default=os.environ.get("SHOPLINE_APP_SECRET", "").strip()
                        or LOCAL_SHOPLINE_APP_SECRET,
                        help="signs the webhooks; prefer the SHOPLINE_APP_SECRET environment variable (the default; "
                        "else the stock service's local secret): this flag puts the secret on the command line")
    parser.add_argument("--shop-domain", default=DEFAULT_SHOP_DOMAIN)
    parser.add_argument("--webhook-timeout", type=float, default=WEBHOOK_TIMEOUT_SECONDS,
                        help="seconds to wait for an answer before redelivering")


def run(args: argparse.Namespace) -> None:
    """Serve the simulator in the foreground until Ctrl-C."""
    from simulators.asgi_server import serve_forever

    faults = ShoplineFaults(
        error_rate=args.error_rate,
        rate_limit_rate=args.rate_limit_rate,
        retry_after_seconds=args.retry_after,
        slow_rate=args.slow_rate,
        slow_seconds=args.slow_seconds,
        fault_seed=args.fault_seed,
    )
    store = ShoplineStore(args.products, args.orders, args.seed)
    target = WebhookTarget(args.webhook_url, args.app_secret, args.shop_domain,
                           args.webhook_timeout) if args.webhook_url else None
    app = create_app(store, access_token=args.access_token, faults=faults, webhook_target=target)
    print(
        f"Shopline simulator on http://{args.host}:{args.port}/admin/openapi/{API_VERSION}/ "
        f"({args.products} products, {args.orders} orders, seed {args.seed}; faults: {faults.describe()})",
        flush=True,
    )
    serve_forever(app, args.host, args.port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.shopline", description=__doc__)
    add_arguments(parser)
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
