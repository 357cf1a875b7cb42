"""Regional ProductsAPI simulator (sites TW, US, JP) per docs/protocols/region-productsapi.md.

POST /api/products/sync-from-globalhub receives RegionProductDto batches (at most 50),
idempotent by globalHubProductId: a new product is stored as Draft, a known one is
replaced by the received copy. POST /api/products/globalhub-lookup answers the
region's current copies. Admin routes under /_sim/ inspect and edit the store
(a regional CMS edit), set faults and read stats; they need no key and are never faulted.
"""

from __future__ import annotations

import argparse
import os
import asyncio
import copy
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulators.asgi_server import serve_forever

MAX_SYNC_PRODUCTS = 50
MAX_LOOKUP_IDS = 500
SYNC_PATH = "/api/products/sync-from-globalhub"
LOOKUP_PATH = "/api/products/globalhub-lookup"
DEFAULT_PORTS = {"TW": 8111, "US": 8112, "JP": 8113}
STATUSES = frozenset({"Draft", "Published", "Archived"})
# Minor-unit decimals per currency, and the amount format they imply (non-negative).
CURRENCY_DECIMALS = {"TWD": 0, "JPY": 0, "USD": 2}
_AMOUNT_RE = {0: re.compile(r"\d+"), 2: re.compile(r"\d+\.\d{2}")}
_STRING_FIELDS = ("externalProductId", "supplierId", "supplierCode", "category", "productType")
_ZERO = timedelta(0)


@dataclass(frozen=True)
class RegionSpec:
    code: str
    languages: tuple[str, ...]  # default first
    currencies: tuple[str, ...]


REGION_DEFAULTS: dict[str, RegionSpec] = {
    "TW": RegionSpec("TW", ("zh-TW", "en-US"), ("TWD", "USD")),
    "US": RegionSpec("US", ("en-US", "zh-TW"), ("USD",)),
    "JP": RegionSpec("JP", ("ja-JP", "en-US", "zh-TW"), ("JPY", "USD")),
}


@dataclass
class RegionFaults:
    """Fault injection for /api calls (all off by default); mutable at runtime."""

    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    retry_after_seconds: float = 1.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    bad_product_ids: frozenset[str] = frozenset()
    failing_product_ids: frozenset[str] = frozenset()
    down: bool = False
    fault_seed: int = 7

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = sorted(v) if isinstance(v, (set, frozenset, list, tuple)) else v
        return out

    def describe(self) -> str:
        active = [
            f"{k}={v}" for k, v in self.to_json().items()
            if v and k not in ("fault_seed", "retry_after_seconds", "slow_seconds")
        ]
        return ", ".join(active) if active else "none"


def utc_now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def is_utc_iso(value: Any) -> bool:
    """ISO-8601 with Z or a zero offset (fractional seconds allowed)."""
    if not isinstance(value, str):
        return False
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return False
    return dt.tzinfo is not None and dt.utcoffset() == _ZERO


class RegionStore:
    """What the region holds: its own copy per globalHubProductId, and how often each id was received."""

    def __init__(self, spec: RegionSpec) -> None:
        self.spec = spec
        self._products: dict[str, dict] = {}
        self._receives: dict[str, int] = {}
        self._lock = threading.Lock()

    def get(self, product_id: str) -> dict | None:
        """A copy of the region's current RegionProductDto, or None."""
        with self._lock:
            dto = self._products.get(product_id)
            return copy.deepcopy(dto) if dto is not None else None

    def receive_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._receives)

    def total_receives(self) -> int:
        with self._lock:
            return sum(self._receives.values())

    def edit(
        self,
        product_id: str,
        *,
        name: dict | None = None,
        description: dict | None = None,
        status: str | None = None,
        updated_at: str | None = None,
    ) -> dict:
        """A regional CMS edit; KeyError if the id is unknown. Returns the edited copy."""
        with self._lock:
            dto = self._products[product_id]
            if name:
                dto["name"] = {**(dto.get("name") or {}), **name}
            if description:
                dto["description"] = {**(dto.get("description") or {}), **description}
            if status is not None:
                dto["status"] = status
            dto["updatedAt"] = updated_at or utc_now_iso()
            return copy.deepcopy(dto)

    def receive(self, products: list[dict]) -> list[str]:
        """Store valid received DTOs (owned by the store from now on); 'created'/'updated' each."""
        out = []
        with self._lock:
            stored, receives = self._products, self._receives
            for dto in products:
                pid = dto["globalHubProductId"]
                if pid in stored:
                    out.append("updated")
                else:
                    dto["status"] = "Draft"
                    out.append("created")
                stored[pid] = dto
                receives[pid] = receives.get(pid, 0) + 1
        return out

    def lookup_bytes(self, ids: list[str]) -> bytes:
        with self._lock:
            stored = self._products
            return orjson.dumps({"products": [stored[i] for i in ids if i in stored]})

    def snapshot_bytes(self) -> bytes:
        with self._lock:
            return orjson.dumps({"products": self._products, "receiveCounts": self._receives})

    def clear(self) -> None:
        with self._lock:
            self._products.clear()
            self._receives.clear()

    def __len__(self) -> int:
        return len(self._products)


# -- validation --------------------------------------------------------------
class _Validator:
    """Plain-Python checks of one RegionProductDto for one region; returns 'field: rule' or None."""

    def __init__(self, spec: RegionSpec) -> None:
        self.languages = frozenset(spec.languages)
        self.default_language = spec.languages[0]
        self.currencies = {c: _AMOUNT_RE[CURRENCY_DECIMALS.get(c, 2)] for c in spec.currencies}
        self.lang_list = ", ".join(spec.languages)
        self.currency_list = ", ".join(spec.currencies)

    def _translations(self, key: str, value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"{key}: must be an object keyed by language"
        for lang, text in value.items():
            if lang not in self.languages:
                return f"{key}: language {lang!r} is not one of the region's ({self.lang_list})"
            if not isinstance(text, str):
                return f"{key}.{lang}: must be a string"
        text = value.get(self.default_language)
        if not text or not text.strip():
            return f"{key}.{self.default_language}: required (region default language), non-empty"
        return None

    def check(self, p: dict) -> str | None:
        pid = p.get("globalHubProductId")
        if not isinstance(pid, str) or not pid:
            return "globalHubProductId: required non-empty string"
        for key in _STRING_FIELDS:
            if not isinstance(p.get(key), str):
                return f"{key}: required string"
        err = self._translations("name", p.get("name"))
        if err:
            return err
        err = self._translations("description", p.get("description"))
        if err:
            return err

        prices = p.get("prices")
        if not isinstance(prices, list):
            return "prices: required array"
        for i, price in enumerate(prices):
            if not isinstance(price, dict):
                return f"prices[{i}]: must be an object"
            cur = price.get("currency")
            amount_re = self.currencies.get(cur) if isinstance(cur, str) else None
            if amount_re is None:
                return f"prices[{i}].currency: {cur!r} is not one of the region's ({self.currency_list})"
            amount = price.get("amount")
            if not isinstance(amount, str) or amount_re.fullmatch(amount) is None:
                decimals = CURRENCY_DECIMALS.get(cur, 2)
                return (
                    f"prices[{i}].amount: {amount!r} must be a non-negative decimal string "
                    f"with {decimals} decimals for {cur}"
                )
            if not isinstance(price.get("priceType"), str) or not price["priceType"]:
                return f"prices[{i}].priceType: required string"

        images = p.get("images")
        if not isinstance(images, list):
            return "images: required array"
        for i, img in enumerate(images):
            if not isinstance(img, dict):
                return f"images[{i}]: must be an object"
            if not isinstance(img.get("url"), str):
                return f"images[{i}].url: required string"
            if not isinstance(img.get("isPrimary"), bool):
                return f"images[{i}].isPrimary: required boolean"
            order = img.get("order")
            if not isinstance(order, int) or isinstance(order, bool):
                return f"images[{i}].order: required integer"

        if "availableSeats" not in p:
            return "availableSeats: required (int or null)"
        seats = p["availableSeats"]
        if seats is not None and (not isinstance(seats, int) or isinstance(seats, bool)):
            return "availableSeats: must be an int or null"
        status = p.get("status")
        if status not in STATUSES:
            return f"status: {status!r} is not one of Draft, Published, Archived"
        for key in ("createdAt", "updatedAt"):
            if not is_utc_iso(p.get(key)):
                return f"{key}: required ISO-8601 UTC timestamp"
        meta = p.get("metadata")
        if not isinstance(meta, dict):
            return "metadata: required object"
        if meta.get("SourceSystem") != "GlobalHub":
            return "metadata.SourceSystem: must be 'GlobalHub'"
        if "SyncedAt" in meta and not is_utc_iso(meta["SyncedAt"]):
            return "metadata.SyncedAt: must be an ISO-8601 UTC timestamp"
        return None


# -- faults and stats ----------------------------------------------------------
class _FaultSource:
    """Three seeded draws per gated call (kind, error code, slow), reproducible per fault_seed."""

    def __init__(self, seed: int) -> None:
        self._lock = threading.Lock()
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        with self._lock:
            self.seed = seed
            self._rng = random.Random(seed)

    def draw(self, faults: RegionFaults) -> tuple[float, float, float]:
        with self._lock:
            if faults.fault_seed != self.seed:
                self.seed = faults.fault_seed
                self._rng = random.Random(self.seed)
            r = self._rng.random
            return r(), r(), r()


def _call_kind(path: str) -> str | None:
    if path == SYNC_PATH:
        return "sync"
    if path == LOOKUP_PATH:
        return "lookup"
    if path.startswith("/_sim/") or path == "/_sim":
        return None
    return "other"


class _Stats:
    FAULTS = ("error", "rate_limit", "slow", "bad_product", "down")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self.calls = {"sync": 0, "lookup": 0, "other": 0}
            self.statuses: dict[str, int] = {}
            self.faults = dict.fromkeys(self.FAULTS, 0)

    def call(self, kind: str) -> None:
        with self._lock:
            self.calls[kind] += 1

    def status(self, status: int) -> None:
        key = str(status)
        with self._lock:
            self.statuses[key] = self.statuses.get(key, 0) + 1

    def fault(self, name: str) -> None:
        with self._lock:
            self.faults[name] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self.calls),
                "statuses": dict(self.statuses),
                "faults_injected": dict(self.faults),
            }


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, headers=headers, media_type="application/json")


def _seconds_header(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class _StatsMiddleware:
    """Counts every non-admin call by kind and every answer by status code."""

    def __init__(self, app: ASGIApp, stats: _Stats) -> None:
        self.app = app
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = _call_kind(scope["path"]) if scope["type"] == "http" else None
        if kind is None:
            await self.app(scope, receive, send)
            return
        stats = self.stats
        stats.call(kind)

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                stats.status(message["status"])
            await send(message)

        await self.app(scope, receive, counting_send)


class _GateMiddleware:
    """For /api calls: region down (503), then auth (401), then seeded random faults."""

    def __init__(
        self,
        app: ASGIApp,
        region: str,
        api_key: str,
        stats: _Stats,
        source: _FaultSource,
        current_faults: Callable[[], RegionFaults],
    ) -> None:
        self.app = app
        self.region = region
        self.api_key = api_key.encode("latin-1")
        self.stats = stats
        self.source = source
        self.current_faults = current_faults  # app.state.faults, read per call

    def _headers(self, scope: Scope) -> tuple[bytes | None, bytes | None]:
        key = src = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                key = value
            elif name == b"x-source":
                src = value
        return key, src

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api"):
            await self.app(scope, receive, send)
            return
        faults = self.current_faults()
        stats = self.stats
        if faults.down:
            stats.fault("down")
            await _json({"message": f"Region {self.region} is down"}, 503)(scope, receive, send)
            return
        key, src = self._headers(scope)
        if key != self.api_key:
            msg = "Unauthorized: missing X-Api-Key" if key is None else "Unauthorized: invalid X-Api-Key"
            await _json({"message": msg}, 401)(scope, receive, send)
            return
        if src != b"GlobalHub":
            await _json({"message": "Unauthorized: X-Source must be GlobalHub"}, 401)(scope, receive, send)
            return
        if faults.error_rate or faults.rate_limit_rate or faults.slow_rate:
            u_kind, u_code, u_slow = self.source.draw(faults)
            if u_slow < faults.slow_rate:
                stats.fault("slow")
                await asyncio.sleep(faults.slow_seconds)
            response = None
            if u_kind < faults.error_rate:
                stats.fault("error")
                code = (500, 502, 503)[min(int(u_code * 3), 2)]
                if code == 502:
                    response = Response(
                        b"<html><body><h1>502 Bad Gateway</h1></body></html>", 502, media_type="text/html"
                    )
                else:
                    msg = "Internal server error" if code == 500 else "Service unavailable"
                    response = _json({"message": msg}, code)
            elif u_kind < faults.error_rate + faults.rate_limit_rate:
                stats.fault("rate_limit")
                headers = {"Retry-After": _seconds_header(faults.retry_after_seconds)}
                response = _json({"message": "Too many requests"}, 429, headers)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# -- app -----------------------------------------------------------------------
def _sync_error(error: str) -> Response:
    return _json({"message": "Sync failed", "error": error}, 400)


def _lookup_error(error: str) -> Response:
    return _json({"message": "Lookup failed", "error": error}, 400)


def _set_faults(faults: RegionFaults, body: dict[str, Any]) -> str | None:
    """Apply admin fault settings; returns an error text or None."""
    names = {f.name for f in fields(RegionFaults)}
    unknown = sorted(set(body) - names)
    if unknown:
        return f"unknown fault fields: {', '.join(unknown)}"
    updates: dict[str, Any] = {}
    for key, value in body.items():
        if key in ("bad_product_ids", "failing_product_ids"):
            if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                return f"{key}: must be a list of strings"
            updates[key] = frozenset(value)
        elif key == "down":
            if not isinstance(value, bool):
                return f"{key}: must be a boolean"
            updates[key] = value
        elif key == "fault_seed":
            if not isinstance(value, int) or isinstance(value, bool):
                return f"{key}: must be an integer"
            updates[key] = value
        else:
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                return f"{key}: must be a non-negative number"
            if key.endswith("_rate") and value > 1:
                return f"{key}: must be within 0..1"
            updates[key] = float(value)
    for key, value in updates.items():
        setattr(faults, key, value)
    return None


def create_app(
    spec: RegionSpec,
    *,
    api_key: str,
    store: RegionStore | None = None,
    faults: RegionFaults | None = None,
) -> Starlette:
    """Starlette app for one region. app.state.store / app.state.faults are live and mutable."""
    store = store if store is not None else RegionStore(spec)
    faults = faults if faults is not None else RegionFaults()
    validator = _Validator(spec)
    stats = _Stats()
    source = _FaultSource(faults.fault_seed)
    app: Starlette  # assigned below; handlers read app.state.faults live

    async def sync(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            return _sync_error(f"body: invalid JSON ({exc})")
        if not isinstance(body, dict):
            return _sync_error("body: must be a JSON object")
        products = body.get("products")
        if not isinstance(products, list):
            return _sync_error("products: required array")
        if not products:
            return _sync_error("products: must not be empty")
        if len(products) > MAX_SYNC_PRODUCTS:
            return _sync_error(f"products: {len(products)} given, at most {MAX_SYNC_PRODUCTS} per call")
        if not is_utc_iso(body.get("syncTimestamp")):
            return _sync_error("syncTimestamp: required ISO-8601 UTC timestamp")
        if body.get("sourceRegion") != "Central":
            return _sync_error("sourceRegion: must be 'Central'")
        for i, p in enumerate(products):
            if not isinstance(p, dict):
                return _sync_error(f"products[{i}]: must be an object")

        current: RegionFaults = app.state.faults
        bad_ids = current.bad_product_ids
        if bad_ids:
            for i, p in enumerate(products):
                pid = p.get("globalHubProductId")
                if isinstance(pid, str) and pid in bad_ids:
                    stats.fault("bad_product")
                    return _sync_error(f"products[{i}] ({pid}): rejected by the region (simulated bad product)")
        failing = current.failing_product_ids

        details: list[dict[str, Any]] = []
        accepted: list[dict] = []
        accepted_at: list[int] = []
        check = validator.check
        for p in products:
            pid = p.get("globalHubProductId")
            error = check(p)
            if error is None and failing and pid in failing:
                error = "simulated failure"
            if error is None:
                accepted_at.append(len(details))
                accepted.append(p)
                details.append({"globalHubProductId": pid, "status": "", "error": None})
            else:
                details.append({"globalHubProductId": pid, "status": "failed", "error": error})
        if accepted:
            for at, outcome in zip(accepted_at, store.receive(accepted)):
                details[at]["status"] = outcome
        ok = len(accepted)
        return Response(
            orjson.dumps({
                "message": "Sync completed successfully",
                "processedCount": len(products),
                "successCount": ok,
                "failedCount": len(products) - ok,
                "details": details,
            }),
            media_type="application/json",
        )

    async def lookup(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            return _lookup_error(f"body: invalid JSON ({exc})")
        if not isinstance(body, dict):
            return _lookup_error("body: must be a JSON object")
        ids = body.get("ids")
        if not isinstance(ids, list):
            return _lookup_error("ids: required array of strings")
        if len(ids) > MAX_LOOKUP_IDS:
            return _lookup_error(f"ids: {len(ids)} given, at most {MAX_LOOKUP_IDS} per call")
        for i, x in enumerate(ids):
            if not isinstance(x, str):
                return _lookup_error(f"ids[{i}]: must be a string")
        return Response(store.lookup_bytes(ids), media_type="application/json")

    async def _admin_body(request: Request) -> dict[str, Any] | Response:
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            return _json({"message": "body must be JSON"}, 400)
        if not isinstance(body, dict):
            return _json({"message": "body must be a JSON object"}, 400)
        return body

    async def sim_stats(request: Request) -> Response:
        snap = stats.snapshot()
        snap["products"] = len(store)
        snap["receives"] = store.total_receives()
        return _json(snap)

    async def sim_products(request: Request) -> Response:
        return Response(store.snapshot_bytes(), media_type="application/json")

    async def sim_edit(request: Request) -> Response:
        body = await _admin_body(request)
        if isinstance(body, Response):
            return body
        pid = body.get("id")
        if not isinstance(pid, str):
            return _json({"message": "id: required string"}, 400)
        for key in ("name", "description"):
            if body.get(key) is not None and not isinstance(body[key], dict):
                return _json({"message": f"{key}: must be an object keyed by language"}, 400)
        for key in ("status", "updatedAt"):
            if body.get(key) is not None and not isinstance(body[key], str):
                return _json({"message": f"{key}: must be a string"}, 400)
        try:
            edited = store.edit(
                pid,
                name=body.get("name"),
                description=body.get("description"),
                status=body.get("status"),
                updated_at=body.get("updatedAt"),
            )
        except KeyError:
            return _json({"message": f"unknown globalHubProductId {pid!r}"}, 404)
        return _json(edited)

    async def sim_faults(request: Request) -> Response:
        if request.method == "POST":
            body = await _admin_body(request)
            if isinstance(body, Response):
                return body
            error = _set_faults(app.state.faults, body)
            if error:
                return _json({"message": error}, 400)
        return _json(app.state.faults.to_json())

    async def sim_reset(request: Request) -> Response:
        store.clear()
        stats.clear()
        source.reseed(app.state.faults.fault_seed)
        return _json({"message": "reset"})

    app = Starlette(
        routes=[
            Route(SYNC_PATH, sync, methods=["POST"]),
            Route(LOOKUP_PATH, lookup, methods=["POST"]),
            Route("/_sim/stats", sim_stats, methods=["GET"]),
            Route("/_sim/products", sim_products, methods=["GET"]),
            Route("/_sim/edit", sim_edit, methods=["POST"]),
            Route("/_sim/faults", sim_faults, methods=["GET", "POST"]),
            Route("/_sim/reset", sim_reset, methods=["POST"]),
        ],
        middleware=[
            Middleware(_StatsMiddleware, stats=stats),
            Middleware(
                _GateMiddleware,
                region=spec.code,
                api_key=api_key,
                stats=stats,
                source=source,
                current_faults=lambda: app.state.faults,
            ),
        ],
    )
    app.state.spec = spec
    app.state.store = store
    app.state.faults = faults
    app.state.stats = stats
    return app


# -- CLI -----------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags for `python -m simulators.region_products` (and a `hub simulate region` command)."""
    parser.add_argument("--region", required=True, type=str.upper,
                        help=f"region code; {', '.join(REGION_DEFAULTS)} know their languages and currencies")
    parser.add_argument("--languages", help="comma list, default language first (default: the contract's)")
    parser.add_argument("--currencies", help="comma list (default: the contract's)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default TW 8111, US 8112, JP 8113")
    parser.add_argument("--api-key", default=None,
                        help="default: REGION_<CODE>_API_KEY, else region-<code>-local-key")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of /api calls answered 500/502/503")
    parser.add_argument("--rate-limit-rate", type=float, default=0.0, help="share answered 429")
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds on 429")
    parser.add_argument("--slow-rate", type=float, default=0.0, help="share of calls delayed")
    parser.add_argument("--slow-seconds", type=float, default=2.0, help="delay of a slow call")
    parser.add_argument(
        "--bad-product-id", action="append", default=[], help="a sync call holding this id answers 400 (repeatable)"
    )
    parser.add_argument(
        "--failing-product-id", action="append", default=[], help="this id fails per product (repeatable)"
    )
    parser.add_argument("--down", action="store_true", help="answer every /api call 503")
    parser.add_argument("--fault-seed", type=int, default=7)


def run(args: argparse.Namespace) -> None:
    """Serve one region in the foreground until Ctrl-C / SIGTERM."""
    known = REGION_DEFAULTS.get(args.region)
    if known is None and not (args.languages and args.currencies):
        raise SystemExit(f"region {args.region} is not one of {', '.join(REGION_DEFAULTS)}: "
                         "give --languages and --currencies")
    spec = RegionSpec(
        code=args.region,
        languages=tuple(args.languages.split(",")) if args.languages else known.languages,
        currencies=tuple(args.currencies.split(",")) if args.currencies else known.currencies,
    )
    if args.port is None and spec.code not in DEFAULT_PORTS:
        raise SystemExit(f"region {spec.code} has no default port: give --port")
    port = args.port if args.port is not None else DEFAULT_PORTS[spec.code]
    # The key comes from the environment like the hub's own, so it never shows in a process list.
    api_key = args.api_key or os.environ.get(f"REGION_{spec.code}_API_KEY") or f"region-{spec.code.lower()}-local-key"
    faults = RegionFaults(
        error_rate=args.error_rate,
        rate_limit_rate=args.rate_limit_rate,
        retry_after_seconds=args.retry_after,
        slow_rate=args.slow_rate,
        slow_seconds=args.slow_seconds,
        bad_product_ids=frozenset(args.bad_product_id or ()),
        failing_product_ids=frozenset(getattr(args, "failing_product_id", None) or ()),
        down=args.down,
        fault_seed=args.fault_seed,
    )
    app = create_app(spec, api_key=api_key, faults=faults)
    print(
        f"Region {spec.code} ProductsAPI simulator on http://{args.host}:{port} "
        f"(languages {', '.join(spec.languages)}; currencies {', '.join(spec.currencies)}; "
        f"faults: {faults.describe()})",
        flush=True,
    )
    serve_forever(app, args.host, port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.region_products", description=__doc__)
    add_arguments(parser)
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
