"""The always-on service's HTTP API (Starlette): stock, Next Engine pushes and webhook ingress.
OpenAPI description at /openapi.json, generated from the routes served (stock_service/openapi.py)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import sys
import time
from datetime import datetime, timezone
from typing import NamedTuple

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from commerce_core.bulk_work import BULK_GEN0_THRESHOLD
from commerce_core.db.cursors import utcnow
from commerce_core.db.engine import get_engine
from commerce_core.monitoring.sync_health import sync_health
from commerce_core.regions.config import load_regions
from commerce_core.stock import ledger, nextengine_push
from commerce_core.stock.ledger import Answer, ReserveRequest
from commerce_core.stock.pushes import apply_push
from commerce_core.webhooks import inbox
from stock_service import webhooks
from stock_service.group_commit import GroupCommitter
from stock_service.metrics import MetricsMiddleware, ServiceMetrics
from stock_service.openapi import describe
from stock_service.redis_stock import RedisStock, stored_answer
from stock_service.settings import ServiceSettings, load_service_settings

log = logging.getLogger("stock_service")
MAX_BODY = 1 << 20
MAX_BULK = 5000
VIEW_TTL_SECONDS = 2.0
# The group-commit writer thread shares the GIL with the event loop. After each database round trip it waits
# for the GIL; with Python's default 5 ms switch interval a busy loop kept it waiting that long several times
# per batch, and every reservation in the batch with it. 0.5 ms: +15-35 % reservations/s (hub bench stock).
GIL_SWITCH_INTERVAL_SECONDS = 0.0005
_ID = re.compile(r"[\w.:@\-]{1,128}")
# A SKU is whatever the stock system calls it (Next Engine codes may hold & or Japanese text).
_SKU = re.compile(r"[^\x00-\x1f\x7f/]{1,128}")


UNAVAILABLE = Answer(503, {"error": "unavailable", "message": "not recorded (the database is unavailable); retry"},
                     retry_after=1)


class _AnsweredMeanwhile(Exception):
    """Another request with the same idempotency key committed first."""


class BadInput(Exception):
    def __init__(self, field: str, rule: str):
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


def _retry_after(answer: Answer) -> str:
    """The Retry-After header's value: whole seconds, at least one."""
    return str(max(1, round(answer.retry_after)))


def _json(answer: Answer) -> Response:
    headers = {"Retry-After": _retry_after(answer)} if answer.retry_after else None
    return Response(answer.json(), status_code=answer.status_code, media_type="application/json", headers=headers)


def _bad_answer(error: BadInput) -> Answer:
    return Answer(400, {"error": "bad_request", "field": error.field, "message": f"{error.field}: {error.rule}"})


def _bad(error: BadInput) -> Response:
    return _json(_bad_answer(error))


def _identifier(value, field: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise BadInput(field, "required: 1-128 letters, digits or . : @ _ -")
    return value


def _sku(value) -> str:
    if not isinstance(value, str) or not _SKU.fullmatch(value):
        raise BadInput("sku", "required: 1-128 characters, no control characters or /")
    return value


def _quantity(value, field: str, *, allow_null: bool = False, minimum: int = 1) -> int | None:
    if value is None and allow_null:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= 1_000_000_000:
        raise BadInput(field, f"must be an integer from {minimum} to 1000000000" + (" or null" if allow_null else ""))
    return value


async def _body(request: Request) -> dict:
    return _json_object(await request.body())


def _json_object(raw: bytes) -> dict:
    if len(raw) > MAX_BODY:
        raise BadInput("body", f"larger than {MAX_BODY} bytes")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadInput("body", "not valid JSON") from None
    if not isinstance(body, dict):
        raise BadInput("body", "must be a JSON object")
    return body


class StockService:
    def __init__(self, settings: ServiceSettings):
        self.settings = settings
        self.engine = get_engine(settings.database_url)
        self.redis = RedisStock(settings.redis_url) if settings.redis_url else None
        # Without Redis the database enforces the per-user order interval itself.
        rate_limit = self.redis is None
        self.committer = GroupCommitter(
            self.engine, lambda conn, requests: ledger.reserve(conn, requests, utcnow(), settings.hold,
                                                               rate_limit=rate_limit),
            name="reservations", max_batch=settings.group_commit_max)
        self.metrics = ServiceMetrics(self.engine)
        self.inbox = GroupCommitter(self.engine, lambda conn, events: inbox.store_many(conn, events, utcnow()),
                                    name="webhook-inbox", max_batch=settings.group_commit_max)

    async def close(self) -> None:
        self.committer.close()
        self.inbox.close()
        if self.redis:
            await self.redis.close()

    # -- reservations ---------------------------------------------------------------
    async def reserve(self, request: ReserveRequest) -> Answer:
        if self.redis is None:
            try:
                return await self.committer.submit(request)
            except Exception:
                log.exception("reservation %s could not be committed", request.order_id)
                return UNAVAILABLE
        fast = await self.redis.try_reserve(request.sku, request.order_id, request.user_id, request.quantity)
        if fast.kind == "MISSING":
            level = await run_in_threadpool(self._level, request.sku)
            if level is None:
                return Answer(404, {"error": "unknown_sku", "message": f"no stock is kept for SKU {request.sku}"})
            await self.redis.load(request.sku, ledger.available(level))
            fast = await self.redis.try_reserve(request.sku, request.order_id, request.user_id, request.quantity)
            if fast.kind == "MISSING":  # evicted again at once: do not guess, let the client retry
                return Answer(503, {"error": "unavailable", "message": "stock cache is reloading; retry"},
                              retry_after=1)
        if fast.kind == "ANSWER":
            return stored_answer(fast.value)
        if fast.kind == "PENDING":
            return Answer(503, {"error": "in_progress", "message": f"order {request.order_id} is being decided; retry"},
                          retry_after=1)
        if fast.kind == "RATE":
            wait = max(1, int(fast.value)) / 1000
            return Answer(429, {"error": "rate_limited", "message": f"user {request.user_id} may place one order "
                                "per second", "retryAfter": wait}, retry_after=wait)
        if fast.kind == "SHORT":
            answer = Answer(409, {"error": "out_of_stock", "sku": request.sku, "requested": request.quantity,
                                  "available": max(0, int(fast.value))})
            await self.redis.remember("reserve", request.order_id, answer)
            return answer
        held = 0 if int(fast.value) == -1 else request.quantity  # an unlimited SKU's counter holds nothing
        try:
            answer = await self.committer.submit(request)
        except BaseException:  # includes a cancelled request: the stock held back here goes back
            log.exception("reservation %s could not be committed", request.order_id)
            await self.redis.decided("reserve", request.order_id, None, request.sku, give_back=held)
            return UNAVAILABLE
        # Refused, or a replay of an earlier decision: nothing new was taken, the held units go back.
        await self.redis.decided("reserve", request.order_id, answer if answer.status_code in (201, 409) else None,
                                 request.sku, give_back=0 if answer.fresh else held)
        return answer

    async def settle(self, order_id: str, action: str) -> Answer:
        try:
            settlement = await run_in_threadpool(self._settle, order_id, action)
        except Exception:
            log.exception("%s of %s could not be committed", action, order_id)
            return UNAVAILABLE
        if self.redis and settlement.moved:
            try:
                if action in ("release", "expire"):  # a confirmed sale leaves availability as it was
                    await self.redis.give_back(settlement.sku, settlement.quantity)
                await self.redis.invalidate_view(settlement.sku)
            except Exception:  # committed already: reconciliation repairs the counter
                log.exception("Redis not updated after %s of %s", action, order_id)
        return settlement.answer

    def _settle(self, order_id: str, action: str) -> ledger.Settlement:
        with self.engine.begin() as conn:
            return ledger.settle(conn, order_id, action, utcnow(), source="expiry" if action == "expire" else "api")

    async def expire_due(self) -> int:
        orders = await run_in_threadpool(self._expired_orders)
        for order_id in orders:
            await self.settle(order_id, "expire")
        return len(orders)

    def _expired_orders(self) -> list[str]:
        with self.engine.connect() as conn:
            return ledger.expired_orders(conn, utcnow())

    # -- stock levels -----------------------------------------------------------------
    def _level(self, sku: str):
        with self.engine.connect() as conn:
            return ledger.get_level(conn, sku)

    async def view(self, sku: str) -> Answer:
        if self.redis:
            cached = await self.redis.cached_view(sku)
            if cached is not None:
                return Answer(200, cached)
        level = await run_in_threadpool(self._level, sku)
        if level is None:
            return Answer(404, {"error": "unknown_sku", "message": f"no stock is kept for SKU {sku}"})
        body = ledger.level_body(sku, level)
        if self.redis:
            await self.redis.cache_view(sku, body, VIEW_TTL_SECONDS)
        return Answer(200, body)

    async def set_levels(self, key: str, items: list[tuple[str, int | None]], source: str) -> Answer:
        try:
            answer, changes = await run_in_threadpool(self._set_levels, key, items, source)
        except Exception:
            log.exception("bulk stock set %s could not be committed", key)
            return UNAVAILABLE
        if self.redis:
            try:
                for sku, delta, was_unlimited, unlimited in changes:
                    await self._move_counter(sku, delta, was_unlimited, unlimited)
            except Exception:  # committed already: reconciliation repairs the counters
                log.exception("Redis not updated after bulk stock set %s", key)
        return answer

    async def _move_counter(self, sku: str, delta: int, was_unlimited: bool, unlimited: bool) -> None:
        if unlimited or was_unlimited:
            level = await run_in_threadpool(self._level, sku)
            await self.redis.set_available(sku, ledger.available(level))
        else:
            await self.redis.give_back(sku, delta)
        await self.redis.invalidate_view(sku)

    def _set_levels(self, key: str, items: list[tuple[str, int | None]], source: str):
        now = utcnow()
        try:
            with self.engine.begin() as conn:
                earlier = ledger.stored_answers(conn, [f"set:{key}"]).get(f"set:{key}")
                if earlier is not None:
                    return earlier, []
                answer = Answer(200, {"updated": len(items)})
                if not ledger.store_answer(conn, f"set:{key}", answer, now):
                    raise _AnsweredMeanwhile
                changes = [(sku, *ledger.set_stock(conn, sku, quantity, now, source=source))
                           for sku, quantity in sorted(items)]  # one lock order: no deadlocks
        except _AnsweredMeanwhile:  # the same key ran concurrently and won: its answer, no second effect
            with self.engine.connect() as conn:
                return ledger.stored_answers(conn, [f"set:{key}"])[f"set:{key}"], []
        return answer, changes

    # -- Next Engine stock push -----------------------------------------------------------
    async def nextengine_push(self, query_string: bytes) -> tuple[bytes, int]:
        now = datetime.now(timezone.utc)
        try:
            push = nextengine_push.verify_push(query_string, self.settings.nextengine_keys, now)
        except nextengine_push.PushRejected as error:
            log.info("Next Engine push refused: %s", error.reason)
            return nextengine_push.response_xml(error.arguments, nextengine_push.PROCESSED_CLIENT_ERROR), -2
        try:
            outcome, change = await run_in_threadpool(self._apply_push, push)
        except Exception:
            log.exception("Next Engine push for %s could not be recorded", push.code)
            return nextengine_push.response_xml(push.arguments, nextengine_push.PROCESSED_SYSTEM_ERROR), -3
        if self.redis and change is not None:
            try:
                await self._move_counter(push.code, *change)
            except Exception:  # recorded and applied: reconciliation repairs the counter
                log.exception("Redis not updated after Next Engine push for %s", push.code)
        return nextengine_push.response_xml(push.arguments, nextengine_push.PROCESSED_OK), 0

    def _apply_push(self, push: nextengine_push.StockPush):
        with self.engine.begin() as conn:
            return apply_push(conn, "nextengine", push, utcnow())


def create_app(settings: ServiceSettings | None = None) -> "ReservationRoute":
    settings = settings or load_service_settings()
    service: StockService | None = None
    webhook_routes: list = []
    region_codes = [region.code for region in load_regions().enabled()]

    async def reserve(path_sku: str, raw: bytes) -> Answer:
        try:
            sku = _sku(path_sku)
            body = _json_object(raw)
            reservation = ReserveRequest(
                order_id=_identifier(body.get("orderId"), "orderId"),
                sku=sku,
                user_id=_identifier(body.get("userId"), "userId"),
                quantity=_quantity(body.get("quantity"), "quantity"),
            )
        except BadInput as error:
            service.metrics.reservation(400)
            return _bad_answer(error)
        answer = await service.reserve(reservation)
        service.metrics.reservation(answer.status_code)
        return answer

    def settle(action: str):
        async def endpoint(request: Request) -> Response:
            try:
                order_id = _identifier(request.path_params["order_id"], "orderId")
            except BadInput as error:
                return _bad(error)
            return _json(await service.settle(order_id, action))
        return endpoint

    async def stock(request: Request) -> Response:
        try:
            sku = _sku(request.path_params["sku"])
        except BadInput as error:
            return _bad(error)
        return _json(await service.view(sku))

    async def low_stock(request: Request) -> Response:
        try:
            raw = request.query_params.get("below", "10")
            try:
                number = int(raw) if len(raw) <= 10 else None
            except ValueError:
                number = None
            threshold = _quantity(number, "below", minimum=1)
        except BadInput as error:
            return _bad(error)

        def read():
            with service.engine.connect() as conn:
                return ledger.low_stock(conn, threshold)
        return _json(Answer(200, {"below": threshold, "items": await run_in_threadpool(read)}))

    async def bulk_set(request: Request) -> Response:
        try:
            key = _identifier(request.headers.get("Idempotency-Key"), "Idempotency-Key header")
            body = await _body(request)
            items = body.get("items")
            if not isinstance(items, list) or not 1 <= len(items) <= MAX_BULK:
                raise BadInput("items", f"required: a list of 1 to {MAX_BULK} {{sku, quantity}} objects")
            parsed, seen = [], set()
            for n, item in enumerate(items):
                if not isinstance(item, dict):
                    raise BadInput(f"items[{n}]", "must be an object")
                try:
                    sku = _sku(item.get("sku"))
                except BadInput as error:
                    raise BadInput(f"items[{n}].sku", error.rule) from None
                if sku in seen:
                    raise BadInput(f"items[{n}].sku", f"{sku} appears twice")
                seen.add(sku)
                parsed.append((sku, _quantity(item.get("quantity"), f"items[{n}].quantity", allow_null=True,
                                              minimum=0)))
        except BadInput as error:
            return _bad(error)
        return _json(await service.set_levels(key, parsed, source="catalog"))

    async def nextengine(request: Request) -> Response:
        body, _ = await service.nextengine_push(request.scope.get("query_string", b""))
        return Response(body, media_type=None, headers={"Content-Type": nextengine_push.CONTENT_TYPE})

    async def health(request: Request) -> Response:
        return _json(Answer(200, {"status": "ok", "mode": "redis" if service.redis else "database"}))

    async def sync_health_check(request: Request) -> Response:
        redis_reachable = None
        if service.redis:
            try:
                redis_reachable = bool(await asyncio.wait_for(service.redis.client.ping(), timeout=1.0))
            except Exception:  # noqa: BLE001 - unreachable is the answer
                redis_reachable = False
        status, body = await run_in_threadpool(sync_health, service.engine, region_codes, utcnow(), redis_reachable)
        return _json(Answer(status, body))

    async def metrics(request: Request) -> Response:
        body, content_type = await run_in_threadpool(service.metrics.exposition)
        return Response(body, headers={"Content-Type": content_type})

    async def serp_webhook(request: Request) -> Response:
        return await webhook_routes[0](request)

    async def shopline_webhook(request: Request) -> Response:
        return await webhook_routes[1](request)

    async def openapi(request: Request) -> Response:
        return Response(document, media_type="application/json")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        nonlocal service
        # Every request allocates many short-lived, acyclic objects; collect cycles less often.
        gc.set_threshold(BULK_GEN0_THRESHOLD, *gc.get_threshold()[1:])
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_SECONDS)
        service = StockService(settings)
        app.state.service = service
        webhook_routes[:] = webhooks.routes(service)

        async def expire_forever():
            while True:
                await asyncio.sleep(settings.expiry_interval_seconds)
                try:
                    await service.expire_due()
                except Exception:
                    log.exception("releasing expired holds failed; retrying next round")

        expiry = asyncio.create_task(expire_forever())
        try:
            yield
        finally:
            expiry.cancel()
            await service.close()

    routes = [
        Route("/reservations/{order_id}/release", settle("release"), methods=["POST"]),
        Route("/reservations/{order_id}/confirm", settle("confirm"), methods=["POST"]),
        Route("/stock/{sku}", stock, methods=["GET"]),
        Route("/stock", low_stock, methods=["GET"]),
        Route("/stock", bulk_set, methods=["PUT"]),
        Route("/webhooks/nextengine/stock", nextengine, methods=["GET"]),
        Route("/webhooks/serp", serp_webhook, methods=["POST"]),
        Route("/webhooks/shopline", shopline_webhook, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/health/sync", sync_health_check, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(MetricsMiddleware, metrics_of=lambda: service and service.metrics)])
    served = ReservationRoute(app, reserve, lambda: service and service.metrics)
    document = orjson.dumps(describe(served.routes))  # from the routes served: raises if one is undescribed
    return served


RESERVATIONS = "/stock/{sku}/reservations"
_PLAIN_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]


class AnsweredRoute(NamedTuple):
    """A route answered in front of Starlette, described as Starlette's `Route` is: template and methods."""
    path: str
    methods: frozenset[str]


class ReservationRoute:
    """Pure ASGI in front of the Starlette app: the hot route, `POST /stock/{sku}/reservations`, is answered here
    without Starlette's middleware, routing, Request and Response objects (about 20 us of CPU per request, in the
    one thread that serves them all). Same answers, same metrics (by route template), 405 for another method, 500
    for an unexpected error; every other path, and the lifespan, go to the app."""

    def __init__(self, app: Starlette, reserve, metrics_of):
        self.app = app
        self.reserve = reserve  # (sku from the path, raw body) -> Answer
        self.metrics_of = metrics_of

    @property
    def routes(self) -> list:
        """Every route served: the reservation route answered here, then the app's."""
        return [AnsweredRoute(RESERVATIONS, frozenset({"POST"})), *self.app.routes]

    async def __call__(self, scope, receive, send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        # {sku} matches what Starlette's default path parameter does: one non-empty segment.
        if not (path.startswith("/stock/") and path.endswith("/reservations") and len(path) > 20
                and "/" not in path[7:-13]):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 405
        try:
            if scope["method"] != "POST":
                await _send(send, 405, b"Method Not Allowed", [*_PLAIN_TEXT, (b"allow", b"POST")])
                return
            raw = await _read_body(receive)
            if raw is None:  # the client went away before its order was complete: nothing to answer
                status = 499  # counted as nginx names it: the client closed the request
                return
            try:
                answer = await self.reserve(path[7:-13], raw)
            except Exception:
                log.exception("reservation request failed")
                status = 500
                await _send(send, 500, b"Internal Server Error", _PLAIN_TEXT)
                return
            status = answer.status_code
            headers = [(b"content-type", b"application/json")]
            if answer.retry_after:
                headers.append((b"retry-after", _retry_after(answer).encode()))
            await _send(send, status, answer.json(), headers)
        finally:
            metrics = self.metrics_of()
            if metrics is not None:
                metrics.answered(RESERVATIONS, scope["method"], status, time.perf_counter() - started)


async def _read_body(receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})
