"""Next Engine REST API simulator with rotating tokens per docs/protocols/nextengine.md.

POST application/x-www-form-urlencoded to /api_v1_master_goods/search,
/api_v1_master_stock/search or /api_v1_receiveorder_base/search with `access_token`
and `refresh_token`. Every successful call issues a NEW token pair (and only the
newest pair is valid afterwards); errors are HTTP 200 with `"result": "error"`, as
Next Engine does. Records are generated lazily from (seed, index). The clock is
simulated (`app.state.clock`) so tests can expire tokens without sleeping. Admin
routes under /_sim/ need no tokens and are never faulted.

Search conditions (Next Engine's `<field>-gte` / `<field>-in` form fields) are honoured
for goods (`goods_last_modified_date-gte`, `goods_id-in`) and stock
(`stock_last_modified_date-gte`, `stock_goods_id-in`): offset, limit and `count` then
apply to the matching records. Any other condition is refused (003001), never ignored.

Stock pushes (simulators/nextengine_push.py): with a push target (`--push-url`,
`--push-store-account`, key from NEXTENGINE_AUTH_KEY or `--push-key`) the simulator sends
Next Engine's signed GET stock pushes. POST /_sim/push-stock {"items": [{"code", "stock":
int >= 0 | null (unlimited)}], "ts": optional, sent as given} pushes those items and answers
the deliveries; /_sim/change pushes the new free stock of the goods it changed; GET
/_sim/pushes lists every delivery. Without a target /_sim/push-stock answers 409.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import heapq
import itertools
import os
import random
import secrets
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from commerce_core.settings import LOCAL_NEXTENGINE_STORE
from simulators.nextengine_push import PUSH_TIMEOUT_SECONDS, PushTarget, StockPusher
from stock_service.settings import LOCAL_NEXTENGINE_KEY

DEFAULT_PORT = 8121
GOODS_PATH = "/api_v1_master_goods/search"
STOCK_PATH = "/api_v1_master_stock/search"
ORDERS_PATH = "/api_v1_receiveorder_base/search"
ENDPOINTS = (GOODS_PATH, STOCK_PATH, ORDERS_PATH)
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
ACCESS_TTL = timedelta(days=1)
REFRESH_TTL = timedelta(days=3)
JST = timezone(timedelta(hours=9))
# 2025-01-01T00:00:00Z; product i was last modified at T0 + i minutes.
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)

ERR_REQUEST = "001001"  # not a form POST
ERR_TOKEN_MISSING = "002001"
ERR_TOKEN_INVALID = "002002"
ERR_PARAM = "003001"
TOKEN_INVALID_MESSAGE = "access_token is invalid or expired; refresh_token is invalid or expired"

_ADJ = ("和風", "北欧", "手作り", "限定", "定番", "国産", "有機", "プレミアム", "天然", "職人")
_NOUN = ("湯呑み", "マグカップ", "手ぬぐい", "茶葉", "石鹸", "タオル", "箸", "風呂敷", "お香", "急須")
_FAMILY = ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤")
_GIVEN = ("太郎", "花子", "健", "美咲", "翔", "陽菜", "大輔", "さくら", "蓮", "結衣")


def format_date(dt: datetime) -> str:
    """Next Engine date format: `YYYY-MM-DD hh:mm:ss` in Japan time."""
    return dt.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S")


def _digest(seed: int, index: int, tag: str) -> bytes:
    return hashlib.blake2b(f"{seed}:{index}:{tag}".encode(), digest_size=32).digest()


class SimClock:
    """Wall clock (UTC) plus an offset that tests advance instead of sleeping."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(timezone.utc) + self._offset

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()


class NextEngineData:
    """Deterministic products, stock and orders, generated lazily from the index."""

    def __init__(self, products: int = 1000, orders: int = 500, seed: int = 42) -> None:
        if products < 0 or orders < 0:
            raise ValueError("products and orders must be >= 0")
        self.products = products
        self.orders = orders
        self.seed = seed
        self.customers = max(1, orders // 3)  # so customers repeat across orders
        self._versions: dict[int, int] = {}
        self._modified: dict[int, datetime] = {}
        self._last_stamp = T0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    @staticmethod
    def goods_id(index: int) -> str:
        return f"NE-{index + 1:07d}"

    def _base_price(self, index: int) -> int:
        h = _digest(self.seed, index, "goods")
        return (3 + (h[0] << 8 | h[1]) % 98) * 100  # 300..10,000 yen

    def _state(self, index: int) -> tuple[int, datetime]:
        with self._lock:
            return self._versions.get(index, 0), self._modified.get(index, T0 + timedelta(minutes=index))

    def product(self, index: int) -> dict[str, str]:
        h = _digest(self.seed, index, "goods")
        version, modified = self._state(index)
        price = self._base_price(index) + 100 * version
        stock = (h[4] + 7 * version) % 60
        return {
            "goods_id": self.goods_id(index),
            "goods_name": f"{_ADJ[h[2] % len(_ADJ)]}{_NOUN[h[3] % len(_NOUN)]} {index + 1}",
            "goods_selling_price": str(price),
            "stock_quantity": str(stock),
            "goods_last_modified_date": format_date(modified),
        }

    def stock(self, index: int) -> dict[str, str]:
        p = self.product(index)
        quantity = int(p["stock_quantity"])
        allocated = _digest(self.seed, index, "alloc")[0] % (quantity + 1) // 3
        return {
            "stock_goods_id": p["goods_id"],
            "stock_quantity": str(quantity),
            "stock_free_quantity": str(quantity - allocated),
            "stock_last_modified_date": p["goods_last_modified_date"],
        }

    def customer(self, number: int) -> tuple[str, str]:
        h = _digest(self.seed, number, "customer")
        name = f"{_FAMILY[h[0] % len(_FAMILY)]} {_GIVEN[h[1] % len(_GIVEN)]}"
        return name, f"customer{number + 1:05d}@example.jp"

    def order(self, index: int) -> dict[str, Any]:
        h = _digest(self.seed, index, "order")
        name, email = self.customer((h[0] << 8 | h[1]) % self.customers)
        rows = []
        if self.products:
            for k in range(1 + h[2] % 3):
                g = (h[3 + 2 * k] << 16 | h[4 + 2 * k] << 8 | h[10 + k]) % self.products
                rows.append({
                    "receive_order_row_goods_id": self.goods_id(g),
                    "receive_order_row_quantity": str(1 + h[14 + k] % 4),
                    "receive_order_row_unit_price": str(self._base_price(g)),
                })
        total = sum(int(r["receive_order_row_quantity"]) * int(r["receive_order_row_unit_price"]) for r in rows)
        return {
            "receive_order_id": str(index + 1),
            "receive_order_date": format_date(T0 + timedelta(hours=index)),
            "receive_order_purchaser_name": name,
            "receive_order_purchaser_mail_address": email,
            "receive_order_total_amount": str(total),
            "receive_order_row": rows,
        }

    def total(self, path: str) -> int:
        return self.orders if path == ORDERS_PATH else self.products

    def page(self, path: str, offset: int, limit: int) -> list[dict[str, Any]]:
        make = {GOODS_PATH: self.product, STOCK_PATH: self.stock, ORDERS_PATH: self.order}[path]
        return [make(i) for i in range(offset, min(offset + limit, self.total(path)))]

    def change(self, count: int, now: datetime | None = None) -> list[str]:
        """Bump price, stock and last-modified of `count` seeded products; returns their ids."""
        with self._lock:
            count = min(max(count, 0), self.products)
            chosen = sorted(self._rng.sample(range(self.products), count))
        return self.change_indices(chosen, now)

    def change_indices(self, indices: list[int], now: datetime | None = None) -> list[str]:
        """Bump price, stock and last-modified of the goods at these indices (e.g. in the middle of a walk)."""
        now = now or datetime.now(timezone.utc)
        if not indices:
            return []
        with self._lock:
            # Strictly increasing stamps, whole seconds (the API's resolution).
            stamp = max(now.replace(microsecond=0), self._last_stamp + timedelta(seconds=1))
            self._last_stamp = stamp
            for i in indices:
                self._versions[i] = self._versions.get(i, 0) + 1
                self._modified[i] = stamp
        return [self.goods_id(i) for i in indices]

    def matching(self, modified_min: datetime | None, goods_ids: set[str] | None) -> list[int]:
        """Indices (in goods id order) of the goods modified at or after `modified_min` and in `goods_ids`."""
        if goods_ids is not None:
            candidates = iter(sorted(i for g in goods_ids if (i := self.index_of(g)) is not None))
        elif modified_min is not None:
            # Generated stamps grow with the index; a change only moves a stamp later.
            first_late = max(0, min(self.products, int((modified_min - T0).total_seconds() // 60)))
            with self._lock:
                changed = sorted(self._modified)
            candidates = (i for i, _ in itertools.groupby(heapq.merge(range(first_late, self.products), changed)))
        else:
            candidates = iter(range(self.products))
        return [i for i in candidates if modified_min is None or self._state(i)[1] >= modified_min]

    def index_of(self, goods_id: str) -> int | None:
        if not goods_id.startswith("NE-") or not goods_id[3:].isdigit():
            return None
        index = int(goods_id[3:]) - 1
        return index if 0 <= index < self.products else None

    @property
    def changed_count(self) -> int:
        with self._lock:
            return len(self._versions)


@dataclass
class NextEngineFaults:
    """Request-level fault injection (all off by default); a fault answer issues no tokens."""

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


@dataclass(frozen=True)
class _Pair:
    access: str
    refresh: str
    access_end: datetime
    refresh_end: datetime

    def body(self) -> dict[str, str]:
        return {
            "access_token": self.access,
            "access_token_end_date": format_date(self.access_end),
            "refresh_token": self.refresh,
            "refresh_token_end_date": format_date(self.refresh_end),
        }


class TokenState:
    """The current token pair (and the previous one, valid for `grace_seconds`)."""

    def __init__(self, access: str, refresh: str, clock: SimClock, grace_seconds: float = 0.0) -> None:
        self.clock = clock
        self.grace_seconds = grace_seconds
        self._lock = threading.Lock()
        now = clock.now()
        self._current = _Pair(access, refresh, now + ACCESS_TTL, now + REFRESH_TTL)
        self._previous: _Pair | None = None
        self._superseded_at = now
        self.rotations = 0
        self.refreshed = 0  # successes through the refresh token (access stale or expired)

    @property
    def current(self) -> _Pair:
        with self._lock:
            return self._current

    @staticmethod
    def _accepts(pair: _Pair, access: str, refresh: str, now: datetime) -> str | None:
        if secrets.compare_digest(access, pair.access) and now < pair.access_end:
            return "access"
        if secrets.compare_digest(refresh, pair.refresh) and now < pair.refresh_end:
            return "refresh"
        return None

    def use(self, access: str, refresh: str) -> _Pair | None:
        """Validate and rotate atomically: the new pair, or None if the call is rejected."""
        with self._lock:
            now = self.clock.now()
            how = self._accepts(self._current, access, refresh, now)
            if how is None and self._previous is not None and self.grace_seconds > 0:
                if (now - self._superseded_at).total_seconds() <= self.grace_seconds:
                    how = self._accepts(self._previous, access, refresh, now)
            if how is None:
                return None
            if how == "refresh":
                self.refreshed += 1
            self._previous = self._current
            self._superseded_at = now
            self._current = _Pair(secrets.token_hex(16), secrets.token_hex(16), now + ACCESS_TTL, now + REFRESH_TTL)
            self.rotations += 1
            return self._current


class _Stats:
    def __init__(self) -> None:
        self.calls: dict[str, int] = {p: 0 for p in ENDPOINTS}
        self.successes = 0
        self.rejected = 0
        self.bad_requests = 0
        self.faults: dict[str, int] = {"error": 0, "rate_limit": 0, "slow": 0}
        self.lock = threading.Lock()

    def bump(self, name: str, key: str | None = None) -> None:
        with self.lock:
            if key is None:
                setattr(self, name, getattr(self, name) + 1)
            else:
                getattr(self, name)[key] += 1


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, headers=headers, media_type="application/json")


def _error(code: str, message: str) -> Response:
    return _json({"result": "error", "code": code, "message": message})


_CONDITION_SUFFIXES = ("-gte", "-gt", "-lte", "-lt", "-eq", "-neq", "-in", "-nin", "-like", "-nlike", "-null", "-nnull")
_CONDITIONS = {
    GOODS_PATH: ("goods_last_modified_date-gte", "goods_id-in"),
    STOCK_PATH: ("stock_last_modified_date-gte", "stock_goods_id-in"),
    ORDERS_PATH: (),
}


def _conditions(path: str, form: dict[str, list[str]]) -> tuple[datetime | None, set[str] | None] | None:
    """(modified at or after, ids) from the search conditions; None when a condition is not supported."""
    modified_min, ids = None, None
    for name, values in form.items():
        if not name.endswith(_CONDITION_SUFFIXES):
            continue
        if name not in _CONDITIONS[path]:
            return None
        value = values[-1]
        if name.endswith("-gte"):
            modified_min = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=JST)
        else:
            ids = {v.strip() for v in value.split(",") if v.strip()}
    return modified_min, ids


def _int_field(form: dict[str, list[str]], name: str, default: int) -> int:
    values = form.get(name)
    return int(values[-1]) if values else default


def create_app(
    data: NextEngineData,
    *,
    access_token: str,
    refresh_token: str,
    faults: NextEngineFaults | None = None,
    grace_seconds: float = 0.0,
    push_target: PushTarget | None = None,
) -> Starlette:
    """Starlette app serving `data`, starting with the valid pair (access_token, refresh_token); with a
    push_target it also sends stock pushes there."""
    faults = faults or NextEngineFaults()
    clock = SimClock()
    pusher = StockPusher(push_target, clock.now) if push_target else None
    tokens = TokenState(access_token, refresh_token, clock, grace_seconds)
    stats = _Stats()
    fault_rng = random.Random(faults.fault_seed)
    fault_lock = threading.Lock()

    async def search(request: Request) -> Response:
        path = request.url.path
        stats.bump("calls", path)
        content_type = request.headers.get("content-type", "")
        if request.method != "POST" or not content_type.startswith("application/x-www-form-urlencoded"):
            stats.bump("bad_requests")
            return _error(ERR_REQUEST, "POST application/x-www-form-urlencoded is required")
        try:
            form = parse_qs((await request.body()).decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            stats.bump("bad_requests")
            return _error(ERR_REQUEST, "body must be UTF-8 form data")
        access = (form.get("access_token") or [""])[-1]
        refresh = (form.get("refresh_token") or [""])[-1]
        if not access or not refresh:
            stats.bump("bad_requests")
            return _error(ERR_TOKEN_MISSING, "access_token and refresh_token are required")
        try:
            offset = _int_field(form, "offset", 0)
            limit = _int_field(form, "limit", DEFAULT_LIMIT)
            if offset < 0 or limit < 1:
                raise ValueError
        except ValueError:
            stats.bump("bad_requests")
            return _error(ERR_PARAM, "offset must be an integer >= 0 and limit an integer >= 1")
        limit = min(limit, MAX_LIMIT)
        try:
            conditions = _conditions(path, form)
        except ValueError:
            conditions = None
        if conditions is None:
            stats.bump("bad_requests")
            return _error(ERR_PARAM, f"unsupported or malformed search condition; this endpoint takes "
                                     f"{', '.join(_CONDITIONS[path]) or 'none'}")

        with fault_lock:
            u_kind, u_code, u_slow = fault_rng.random(), fault_rng.random(), fault_rng.random()
        if u_slow < faults.slow_rate:
            stats.bump("faults", "slow")
            await asyncio.sleep(faults.slow_seconds)
        if u_kind < faults.error_rate:
            stats.bump("faults", "error")
            return _json({"error": "internal_error"}, (500, 502, 503)[int(u_code * 3)])
        if u_kind < faults.error_rate + faults.rate_limit_rate:
            stats.bump("faults", "rate_limit")
            return _json({"error": "rate_limited"}, 429, {"Retry-After": str(faults.retry_after_seconds)})

        pair = tokens.use(access, refresh)
        if pair is None:
            stats.bump("rejected")
            return _error(ERR_TOKEN_INVALID, TOKEN_INVALID_MESSAGE)
        stats.bump("successes")
        if conditions == (None, None):
            count, records = data.total(path), data.page(path, offset, limit)
        else:
            matching = data.matching(*conditions)
            make = data.product if path == GOODS_PATH else data.stock
            count, records = len(matching), [make(i) for i in matching[offset:offset + limit]]
        return _json({
            "result": "success",
            "count": str(count),
            "data": records,
            **pair.body(),
        })

    async def _sim_json(request: Request) -> dict[str, Any] | Response:
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            return _json({"error": "body must be JSON"}, 400)
        if not isinstance(body, dict):
            return _json({"error": "body must be a JSON object"}, 400)
        return body

    async def sim_stats(request: Request) -> Response:
        with stats.lock:
            body = {
                "calls": dict(stats.calls),
                "successes": stats.successes,
                "rejected": stats.rejected,
                "bad_requests": stats.bad_requests,
                "faults": dict(stats.faults),
            }
        body.update(
            token_rotations=tokens.rotations,
            refreshed=tokens.refreshed,
            products=data.products,
            orders=data.orders,
            changed_count=data.changed_count,
            now=format_date(clock.now()),
        )
        return _json(body)

    async def sim_tokens(request: Request) -> Response:
        return _json({**tokens.current.body(), "now": format_date(clock.now())})

    async def sim_clock(request: Request) -> Response:
        body = await _sim_json(request)
        if isinstance(body, Response):
            return body
        seconds = body.get("advance_seconds")
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
            return _json({"error": "advance_seconds must be a number", "field": "advance_seconds"}, 400)
        return _json({"now": format_date(clock.advance(seconds))})

    async def sim_change(request: Request) -> Response:
        body = await _sim_json(request)
        if isinstance(body, Response):
            return body
        count = body.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            return _json({"error": "count must be an integer >= 0", "field": "count"}, 400)
        changed = data.change(count, clock.now())
        if pusher is None:
            return _json({"changed": changed})
        # Next Engine pushes free stock after a change: the new stock_free_quantity of each changed goods.
        items = [(gid, int(data.stock(data.index_of(gid))["stock_free_quantity"])) for gid in changed]
        sent = await run_in_threadpool(pusher.push, items)
        return _json({"changed": changed, "pushes": [asdict(d) for d in sent]})

    async def sim_push_stock(request: Request) -> Response:
        if pusher is None:
            return _json({"error": "no push target: start the simulator with --push-url"}, 409)
        body = await _sim_json(request)
        if isinstance(body, Response):
            return body
        items, ts = body.get("items"), body.get("ts")
        if not isinstance(items, list) or not all(_push_item(item) for item in items):
            return _json({"error": 'items must be a list of {"code": non-empty string, '
                                   '"stock": integer >= 0 or null (unlimited)}', "field": "items"}, 400)
        if ts is not None and not isinstance(ts, str):
            return _json({"error": "ts must be a string (sent as given)", "field": "ts"}, 400)
        sent = await run_in_threadpool(pusher.push, [(item["code"], item["stock"]) for item in items], ts)
        return _json({"pushes": [asdict(d) for d in sent]})

    async def sim_pushes(request: Request) -> Response:
        if pusher is None:
            return _json({"pushes": [], "sent": 0, "attempts": 0, "delivered": 0})
        return _json({"pushes": pusher.log(), **pusher.summary()})

    app = Starlette(routes=[
        *(Route(p, search, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]) for p in ENDPOINTS),
        Route("/_sim/stats", sim_stats, methods=["GET"]),
        Route("/_sim/tokens", sim_tokens, methods=["GET"]),
        Route("/_sim/clock", sim_clock, methods=["POST"]),
        Route("/_sim/change", sim_change, methods=["POST"]),
        Route("/_sim/push-stock", sim_push_stock, methods=["POST"]),
        Route("/_sim/pushes", sim_pushes, methods=["GET"]),
    ])
    app.state.data = data
    app.state.faults = faults
    app.state.clock = clock
    app.state.tokens = tokens
    app.state.stats = stats
    app.state.pusher = pusher
    return app


def _push_item(item: Any) -> bool:
    if not isinstance(item, dict) or "stock" not in item:  # a missing stock must not read as "unlimited"
        return False
    code, stock = item.get("code"), item["stock"]
    return isinstance(code, str) and code != "" and (
        stock is None or (isinstance(stock, int) and not isinstance(stock, bool) and stock >= 0))


# -- CLI ---------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags for `python -m simulators.nextengine`."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--access-token", default="ne-local-access")
    parser.add_argument("--refresh-token", default="ne-local-refresh")
    parser.add_argument("--grace-seconds", type=float, default=0.0, help="how long the previous pair stays valid")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of API calls answered 5xx")
    parser.add_argument("--rate-limit-rate", type=float, default=0.0, help="fraction answered 429")
    parser.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds on 429")
    parser.add_argument("--slow-rate", type=float, default=0.0, help="fraction of calls delayed")
    parser.add_argument("--slow-seconds", type=float, default=2.0)
    parser.add_argument("--fault-seed", type=int, default=0)
    parser.add_argument("--push-url", default="",
                        help="send stock pushes here, e.g. http://127.0.0.1:8000/webhooks/nextengine/stock "
                        "(none: /_sim/push-stock answers 409)")
    parser.add_argument("--push-store-account", default=os.environ.get("NEXTENGINE_STORE_ACCOUNT")
                        or LOCAL_NEXTENGINE_STORE, help="StoreAccount of the pushes (default NEXTENGINE_STORE_ACCOUNT)")
    # A key on the command line is visible to every user of the machine: prefer the environment.
    parser.add_argument("--push-key", default=os.environ.get("NEXTENGINE_AUTH_KEY", "").strip()
                        or LOCAL_NEXTENGINE_KEY,
                        help="signs the pushes; default NEXTENGINE_AUTH_KEY, else the stock service's local key")
    parser.add_argument("--push-timeout", type=float, default=PUSH_TIMEOUT_SECONDS,
                        help="seconds to wait for an answer before retrying (same ts and .sig)")


def run(args: argparse.Namespace) -> None:
    """Serve the simulator in the foreground until Ctrl-C."""
    from simulators.asgi_server import serve_forever

    faults = NextEngineFaults(
        error_rate=args.error_rate,
        rate_limit_rate=args.rate_limit_rate,
        retry_after_seconds=args.retry_after,
        slow_rate=args.slow_rate,
        slow_seconds=args.slow_seconds,
        fault_seed=args.fault_seed,
    )
    data = NextEngineData(args.products, args.orders, args.seed)
    app = create_app(
        data,
        access_token=args.access_token,
        refresh_token=args.refresh_token,
        faults=faults,
        grace_seconds=args.grace_seconds,
        push_target=PushTarget(args.push_url, args.push_store_account, args.push_key,
                               args.push_timeout) if args.push_url else None,
    )
    pushes = f"stock pushes to {args.push_url} as {args.push_store_account}" if args.push_url else "no stock pushes"
    print(
        f"Next Engine simulator on http://{args.host}:{args.port} "
        f"({args.products} products, {args.orders} orders, seed {args.seed}; faults: {faults.describe()}; {pushes})",
        flush=True,
    )
    serve_forever(app, args.host, args.port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.nextengine", description=__doc__)
    add_arguments(parser)
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
